import { endianness } from 'node:os';
import {
  fromFloat16Bits,
  META_FIELD,
  RowBatchBuilder,
  type CollectionSchema,
  type DirectStorage,
  type FieldSchema,
  type RowBatch,
} from '@gw/schema';
import { baseNameOf, type ByteInput } from './byte-input';
import { FormatError, FormatErrorCode } from './formats.errors';
import { DEFAULT_MAX_PAGE_BYTES, maxPageBytesOf, tooLarge } from './limits';
import type { FileGroupReader, ReadOptions } from './reader';
import { decodeUtf8, rejectOrThrow, rethrowLocated } from './text';

export interface NpyHeader {
  readonly descr: string;
  /** 'b' bool, 'i' signed, 'u' unsigned, 'f' float, 'U' UTF-32 text, 'S' bytes. */
  readonly kind: 'b' | 'i' | 'u' | 'f' | 'U' | 'S';
  readonly itemSize: number;
  readonly littleEndian: boolean;
  readonly fortranOrder: boolean;
  readonly shape: readonly number[];
  readonly dataOffset: number;
  /** Items per row: product of shape[1:] (1 for shape (n,)). */
  readonly rowItems: number;
  readonly rowBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const PICKLED = "pickled object arrays are not supported; save strings with a fixed-width unicode dtype ('<U')";

/**
 * Reads and checks a `.npy` header (versions 1.0–3.0) with two small ranged reads. `field` (the
 * file's key in its group) names the field in errors; a row wider than `maxPageBytes`
 * (IMPORT_MAX_PAGE_BYTES) is refused, since a block of rows is read whole.
 */
export async function readNpyHeader(
  input: ByteInput,
  maxPageBytes: number = DEFAULT_MAX_PAGE_BYTES,
  field?: string,
): Promise<NpyHeader> {
  const file = input.name;
  const loc = field === undefined ? { file } : { file, field };
  const corrupt = (problem: string): FormatError => new FormatError(FormatErrorCode.Corrupt, { file }, problem);
  if (input.byteLength < 10) throw corrupt('not a NumPy file: too short');
  const pre = await input.slice(0, 12);
  for (let k = 0; k < MAGIC.length; k++) if (pre[k] !== MAGIC[k]) throw corrupt('not a NumPy file: wrong magic');
  const major = pre[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = pre[8]! | (pre[9]! << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (pre.length < 12) throw corrupt('not a NumPy file: too short');
    headerLen = (pre[8]! | (pre[9]! << 8) | (pre[10]! << 16)) + pre[11]! * 2 ** 24;
    start = 12;
  } else throw corrupt(`unsupported NumPy format version ${major}.${pre[7]}`);
  if (start + headerLen > input.byteLength) throw corrupt('truncated NumPy header');
  if (headerLen > 1 << 20) throw corrupt(`NumPy header of ${headerLen} bytes is too large`);
  const raw = await input.slice(start, start + headerLen);
  const text = major === 3 ? new TextDecoder().decode(raw) : Buffer.from(raw).toString('latin1');
  const descrM = /'descr'\s*:\s*'([^']*)'/.exec(text);
  if (/'descr'\s*:\s*\[/.test(text))
    throw new FormatError(FormatErrorCode.Unsupported, { file }, 'structured NumPy dtypes are not supported');
  const fortranM = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shapeM = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (descrM === null || fortranM === null || shapeM === null) throw corrupt('invalid NumPy header');
  const descr = descrM[1]!;
  const shape = shapeM[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw corrupt('invalid NumPy header: bad shape');
  const dm = /^([<>|=])([biufUSOVMmcaB])(\d*)$/.exec(descr);
  if (dm === null) throw new FormatError(FormatErrorCode.Unsupported, { file }, `unsupported NumPy dtype '${descr}'`);
  const order = dm[1]!;
  const kindChar = dm[2]!;
  if (kindChar === 'O') throw new FormatError(FormatErrorCode.Unsupported, { file }, PICKLED);
  if (!'biufUS'.includes(kindChar))
    throw new FormatError(FormatErrorCode.Unsupported, { file }, `unsupported NumPy dtype '${descr}'`);
  const kind = kindChar as NpyHeader['kind'];
  const n = Number(dm[3] === '' ? '1' : dm[3]);
  const itemSize = kind === 'U' ? 4 * n : n;
  const fortranOrder = fortranM[1] === 'True';
  if (fortranOrder && shape.length > 1)
    throw new FormatError(
      FormatErrorCode.Unsupported,
      { file },
      'fortran_order arrays of more than one dimension are not supported',
    );
  if (shape.length === 0)
    throw new FormatError(FormatErrorCode.ColumnType, { file }, 'a 0-dimensional NumPy array holds no rows');
  const rowItems = shape.slice(1).reduce((a, b) => a * b, 1);
  const rowBytes = rowItems * itemSize;
  const described = `shape (${shape.join(', ')}) of '${descr}'`;
  if (!(rowBytes <= maxPageBytes))
    throw tooLarge(
      loc,
      `NumPy ${described} declares rows of ${rowBytes} bytes, more than IMPORT_MAX_PAGE_BYTES (${maxPageBytes})`,
    );
  const dataOffset = start + headerLen;
  const need = dataOffset + shape[0]! * rowBytes;
  if (input.byteLength < need)
    throw new FormatError(
      FormatErrorCode.Corrupt,
      loc,
      `file is truncated: ${shape[0]} rows need ${need} bytes, the file has ${input.byteLength}`,
    );
  return {
    descr,
    kind,
    itemSize,
    littleEndian:
      order === '<' || order === '|' || (order === '=' && new Uint8Array(new Uint16Array([1]).buffer)[0] === 1),
    fortranOrder,
    shape,
    dataOffset,
    rowItems,
    rowBytes,
  };
}

/** Checks a dtype/shape against the field (formats.md §3, NumPy column) before the first row. */
function checkDtype(file: string, f: FieldSchema, h: NpyHeader): void {
  const bad = (problem?: string): FormatError =>
    new FormatError(
      FormatErrorCode.ColumnType,
      { file, field: f.name },
      problem ?? `numpy dtype '${h.descr}' with shape (${h.shape.join(', ')}) cannot hold a ${f.dataType} field`,
    );
  const scalar = h.shape.length === 1;
  const dims = (want: number): void => {
    if (h.shape.length !== 2) throw bad();
    if (h.shape[1] !== want) throw bad(`expected ${want} values, got ${h.shape[1]}`);
  };
  const k = h.kind;
  const size = h.itemSize;
  switch (f.dataType) {
    case 'Bool':
      if (!(scalar && k === 'b')) throw bad();
      return;
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64': {
      const width = { Int8: 1, Int16: 2, Int32: 4, Int64: 8 }[f.dataType];
      if (!(scalar && k === 'i' && size <= width)) throw bad();
      return;
    }
    case 'Float':
    case 'Double':
      if (!(scalar && k === 'f')) throw bad();
      return;
    case 'VarChar':
    case 'JSON':
      if (!(scalar && (k === 'U' || k === 'S'))) throw bad();
      return;
    case 'FloatVector':
      if (!(k === 'f' && size >= 4)) throw bad();
      dims(f.dim ?? 0);
      return;
    case 'BinaryVector':
      if (k !== 'u' || size !== 1) throw bad();
      dims((f.dim ?? 0) / 8);
      return;
    case 'Float16Vector':
    case 'BFloat16Vector':
      if (k === 'u' && size === 1) dims(2 * (f.dim ?? 0));
      else if (k === 'f' && size === 4) dims(f.dim ?? 0);
      else if (k === 'f' && size === 2 && f.dataType === 'Float16Vector') dims(f.dim ?? 0);
      else throw bad();
      return;
    case 'Array':
    case 'SparseFloatVector':
      throw bad(`numpy import does not support field type ${f.dataType} (field '${f.name}')`);
  }
}

/** Decodes one block of rows of one file into per-row values (typed-array views for vectors). */
function blockDecoder(file: string, h: NpyHeader, bytes: Uint8Array, firstRow: number): (r: number) => unknown {
  const items = bytes.length / h.itemSize;
  const per = h.rowItems;
  const vector = h.shape.length > 1;
  const numeric = (arr: ArrayLike<number | bigint> & { subarray(a: number, b: number): unknown }) =>
    vector ? (r: number) => arr.subarray(r * per, (r + 1) * per) : (r: number) => arr[r];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = h.littleEndian;
  switch (h.kind) {
    case 'b':
      return vector ? (r) => Array.from(bytes.subarray(r * per, (r + 1) * per), (b) => b !== 0) : (r) => bytes[r] !== 0;
    case 'u':
      if (h.itemSize === 1) return numeric(bytes);
      break;
    case 'i': {
      if (h.itemSize === 1) return numeric(new Int8Array(bytes.buffer, bytes.byteOffset, items));
      if (h.itemSize === 2) {
        const a = new Int16Array(items);
        for (let k = 0; k < items; k++) a[k] = dv.getInt16(2 * k, le);
        return numeric(a);
      }
      if (h.itemSize === 4) {
        const a = new Int32Array(items);
        for (let k = 0; k < items; k++) a[k] = dv.getInt32(4 * k, le);
        return numeric(a);
      }
      if (h.itemSize === 8) {
        const a = new BigInt64Array(items);
        for (let k = 0; k < items; k++) a[k] = dv.getBigInt64(8 * k, le);
        return numeric(a);
      }
      break;
    }
    case 'f': {
      if (h.itemSize === 2) {
        const a = new Uint16Array(items);
        for (let k = 0; k < items; k++) a[k] = dv.getUint16(2 * k, le);
        return vector ? numeric(a) : (r) => fromFloat16Bits(a[r]!);
      }
      if (h.itemSize === 4) {
        let a: Float32Array;
        if (le && bytes.byteOffset % 4 === 0) a = new Float32Array(bytes.buffer, bytes.byteOffset, items);
        else {
          a = new Float32Array(items);
          for (let k = 0; k < items; k++) a[k] = dv.getFloat32(4 * k, le);
        }
        return numeric(a);
      }
      if (h.itemSize === 8) {
        const a = new Float64Array(items);
        for (let k = 0; k < items; k++) a[k] = dv.getFloat64(8 * k, le);
        return numeric(a);
      }
      break;
    }
    case 'U': {
      if (vector) break;
      const chars = h.itemSize / 4;
      // Code points go through a small reused array: a wide `<U` row (up to IMPORT_MAX_PAGE_BYTES)
      // as one array of numbers would take twice its size again in JS heap.
      const cps = new Array<number>(4096);
      return (r) => {
        const at = r * h.itemSize;
        let n = chars;
        while (n > 0 && dv.getUint32(at + 4 * (n - 1), le) === 0) n--;
        let s = '';
        for (let k0 = 0; k0 < n; k0 += cps.length) {
          const m = Math.min(cps.length, n - k0);
          for (let k = 0; k < m; k++) {
            const c = dv.getUint32(at + 4 * (k0 + k), le);
            if (c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
              throw new FormatError(
                FormatErrorCode.Syntax,
                { file, row: firstRow + r },
                `invalid code point in a '<U' string`,
              );
            cps[k] = c;
          }
          s += String.fromCodePoint(...(m === cps.length ? cps : cps.slice(0, m)));
        }
        return s;
      };
    }
    case 'S': {
      if (vector) break;
      return (r) => {
        let e = (r + 1) * h.itemSize;
        const s = r * h.itemSize;
        while (e > s && bytes[e - 1] === 0) e--;
        return decodeUtf8(bytes.subarray(s, e), { file, row: firstRow + r }, h.dataOffset + s);
      };
    }
  }
  throw new FormatError(
    FormatErrorCode.Unsupported,
    { file },
    `unsupported NumPy dtype '${h.descr}' with shape (${h.shape.join(', ')})`,
  );
}

/**
 * Copies `rows` rows of a block, from row `from`, into a batch column at row `at`; returns the
 * first copied row whose values the column's checks refuse (non-finite floats), or -1.
 */
type BlockCopy = (block: Uint8Array, storage: DirectStorage, from: number, rows: number, at: number) => number;

const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/**
 * A column whose file bytes already are the batch column's bytes (little-endian, same width, C
 * order) is copied block by block instead of row by row; only the checks addRow would make are
 * repeated (finite floats). Null for every other dtype/field pairing: those go row by row.
 */
function blockCopier(field: FieldSchema, h: NpyHeader): BlockCopy | null {
  if (!HOST_LITTLE_ENDIAN || (!h.littleEndian && h.itemSize > 1) || (h.fortranOrder && h.shape.length > 1)) return null;
  const rowBytes = h.rowBytes;
  const bytesOf = (st: DirectStorage): Uint8Array | null =>
    Array.isArray(st) ? null : new Uint8Array(st.buffer, st.byteOffset, st.byteLength);
  const copy =
    (check: ((st: Float32Array | Float64Array, at: number, rows: number) => number) | null): BlockCopy =>
    (block, st, from, rows, at) => {
      const out = bytesOf(st);
      if (out === null) return 0;
      out.set(block.subarray(from * rowBytes, (from + rows) * rowBytes), at * rowBytes);
      return check === null ? -1 : check(st as Float32Array | Float64Array, at, rows);
    };
  const finite =
    (per: number) =>
    (st: Float32Array | Float64Array, at: number, rows: number): number => {
      const end = (at + rows) * per;
      for (let k = at * per; k < end; k++) {
        const x = st[k]!;
        if (x - x !== 0) return Math.floor(k / per) - at; // NaN or ±Infinity
      }
      return -1;
    };
  switch (field.dataType) {
    case 'FloatVector':
      return h.kind === 'f' && h.itemSize === 4 && h.rowItems === field.dim ? copy(finite(h.rowItems)) : null;
    case 'BinaryVector':
      return h.kind === 'u' && h.itemSize === 1 && h.rowItems * 8 === field.dim ? copy(null) : null;
    case 'Int64':
      return h.kind === 'i' && h.itemSize === 8 && h.shape.length === 1 ? copy(null) : null;
    case 'Int32':
      return h.kind === 'i' && h.itemSize === 4 && h.shape.length === 1 ? copy(null) : null;
    case 'Float':
      return h.kind === 'f' && h.itemSize === 4 && h.shape.length === 1 ? copy(finite(1)) : null;
    case 'Double':
      return h.kind === 'f' && h.itemSize === 8 && h.shape.length === 1 ? copy(finite(1)) : null;
    default:
      return null;
  }
}

interface NpyMember {
  readonly input: ByteInput;
  /** Key in the row object: field name, '$meta', or an unknown name stored in `$meta`. */
  readonly key: string;
  readonly field: FieldSchema | null;
  header?: NpyHeader;
}

/** NumPy group: one `.npy` per field, read in step block by block with ranged reads. */
export function openNumpyReader(
  inputs: readonly ByteInput[],
  schema: CollectionSchema,
  opts: ReadOptions,
): FileGroupReader {
  let consumed = 0;
  const totalBytes = inputs.reduce((a, i) => a + i.byteLength, 0);
  let prepared: Promise<{ members: NpyMember[]; rows: number }> | null = null;
  const group = inputs[0]?.name ?? '';

  const prepare = async (): Promise<{ members: NpyMember[]; rows: number }> => {
    for (const f of schema.fields) {
      if (f.dataType === 'SparseFloatVector' || (f.dataType === 'Array' && !f.nullable))
        throw new FormatError(
          FormatErrorCode.Unsupported,
          { file: group },
          `numpy import does not support field type ${f.dataType} (field '${f.name}')`,
        );
    }
    const byName = new Map(schema.fields.map((f) => [f.name, f]));
    const members: NpyMember[] = [];
    const seen = new Set<string>();
    for (const input of inputs) {
      const base = baseNameOf(input.name);
      const key = base.replace(/\.npy$/i, '');
      if (seen.has(key))
        throw new FormatError(
          FormatErrorCode.UnknownColumn,
          { file: input.name, field: key },
          `two files for field '${key}'`,
        );
      seen.add(key);
      const field = byName.get(key) ?? null;
      if (field !== null) {
        if (field.isPrimary && field.autoId)
          throw new FormatError(
            FormatErrorCode.UnknownColumn,
            { file: input.name, field: key },
            `the primary key '${key}' is auto-generated, no need to provide`,
          );
        members.push({ input, key, field });
      } else if (schema.enableDynamicField) {
        members.push({ input, key, field: null });
      } else if (!opts.ignoreUnknownFields) {
        throw new FormatError(
          FormatErrorCode.UnknownColumn,
          { file: input.name, field: key },
          `field '${key}' is not defined in the schema`,
        );
      }
    }
    for (const f of schema.fields) {
      if (seen.has(f.name) || (f.isPrimary && f.autoId) || f.nullable || f.defaultValue !== undefined) continue;
      throw new FormatError(
        FormatErrorCode.MissingColumn,
        { file: group, field: f.name },
        `no file for field: ${f.name}`,
      );
    }
    let rows = -1;
    let rowsFile = '';
    for (const m of members) {
      const h = await readNpyHeader(m.input, maxPageBytesOf(opts), m.key);
      m.header = h;
      if (m.field !== null) checkDtype(m.input.name, m.field, h);
      else if (m.key === META_FIELD && !(h.kind === 'U' || h.kind === 'S'))
        throw new FormatError(
          FormatErrorCode.ColumnType,
          { file: m.input.name, field: META_FIELD },
          `numpy dtype '${h.descr}' cannot hold '$meta' (use '<U')`,
        );
      const n = h.shape[0]!;
      if (rows < 0) {
        rows = n;
        rowsFile = m.input.name;
      } else if (n !== rows)
        throw new FormatError(
          FormatErrorCode.RowCountMismatch,
          { file: group },
          `row count mismatch: ${rowsFile} has ${rows} rows, ${m.input.name} has ${n}`,
        );
    }
    return { members, rows: Math.max(rows, 0) };
  };
  const ready = (): Promise<{ members: NpyMember[]; rows: number }> => (prepared ??= prepare());

  return {
    totalBytes,
    bytesConsumed: () => consumed,
    totalRows: async () => (await ready()).rows,
    async *batches(): AsyncIterable<RowBatch> {
      const { members, rows } = await ready();
      const builder = new RowBatchBuilder(schema, opts.batchRows, opts);
      // Blocks are read whole, so they follow the byte bound too (the file bytes of a row, or the
      // batch's estimate when that is larger), not only the row count.
      const fileRowBytes = members.reduce((a, m) => a + m.header!.rowBytes, 0);
      const blockRows = Math.max(
        1,
        Math.min(builder.capacity, Math.floor((opts.batchBytes ?? Infinity) / Math.max(1, fileRowBytes))),
      );
      let batchFirst = 1;
      // Without the dynamic field, rows are written straight into the batch columns: columns whose
      // file bytes are the column's bytes are copied block by block, the others converted per row.
      // Under error_mode=continue rows go one by one through addRow, so a refused one can be skipped.
      const direct = !schema.enableDynamicField && members.length > 0 && opts.onRejectedRow === undefined;
      const copiers = direct ? members.map((m) => blockCopier(m.field!, m.header!)) : [];
      const perRow = members.flatMap((m, k) => (direct && copiers[k] === null ? [k] : []));
      const present = new Uint8Array(schema.fields.length);
      if (direct) for (const m of members) present[schema.fields.indexOf(m.field!)] = 1;
      for (let r0 = 0; r0 < rows; r0 += blockRows) {
        const r1 = Math.min(rows, r0 + blockRows);
        const blocks = await Promise.all(
          members.map(async (m) => {
            const h = m.header!;
            const bytes = await m.input.slice(h.dataOffset + r0 * h.rowBytes, h.dataOffset + r1 * h.rowBytes);
            consumed += bytes.length;
            if (bytes.length !== (r1 - r0) * h.rowBytes)
              throw new FormatError(FormatErrorCode.Corrupt, { file: m.input.name }, 'file is truncated');
            return bytes;
          }),
        );
        const decoderOf = (k: number) => blockDecoder(members[k]!.input.name, members[k]!.header!, blocks[k]!, r0 + 1);
        if (direct) {
          const decoders = perRow.map((k) => ({ k, decode: decoderOf(k) }));
          for (let from = 0; from < r1 - r0;) {
            if (builder.isFull) {
              const n = builder.rowCount;
              yield builder.flush(group, batchFirst);
              batchFirst += n;
            }
            const take = Math.min(r1 - r0 - from, builder.capacity - builder.rowCount);
            const at = builder.rowCount;
            for (const [k, m] of members.entries()) {
              const copy = copiers[k];
              const bad = copy ? copy(blocks[k]!, builder.directStorage(m.key)!, from, take, at) : -1;
              if (bad >= 0) {
                // The row-by-row conversion of that row throws the usual error; this names where.
                const row = r0 + from + bad + 1;
                try {
                  builder.directSet(m.key, decoderOf(k)(from + bad));
                } catch (e) {
                  rethrowLocated(e, { file: m.input.name, row });
                }
                throw new FormatError(FormatErrorCode.Corrupt, { file: m.input.name, row }, 'value out of range');
              }
            }
            let done = 0;
            while (done < take) {
              for (const { k, decode } of decoders) {
                try {
                  builder.directSet(members[k]!.key, decode(from + done));
                } catch (e) {
                  rethrowLocated(e, { file: members[k]!.input.name, row: r0 + from + done + 1 });
                }
              }
              builder.directCommit(present, 0);
              done++;
              // Long strings may fill the batch early: the next chunk copies the rest again.
              if (decoders.length > 0 && builder.isFull) break;
            }
            from += done;
          }
          const n = builder.rowCount;
          if (n > 0) yield builder.flush(group, batchFirst);
          batchFirst += n;
          continue;
        }
        const decoders = members.map((m, k) => ({ key: m.key, decode: decoderOf(k), file: m.input.name }));
        for (let r = 0; r < r1 - r0; r++) {
          if (builder.isFull) {
            // Long strings filled the batch before the block ended.
            const n = builder.rowCount;
            yield builder.flush(group, batchFirst);
            batchFirst += n;
          }
          const obj: Record<string, unknown> = {};
          for (const d of decoders) obj[d.key] = d.decode(r);
          try {
            builder.addRow(obj);
          } catch (e) {
            rejectOrThrow(
              e,
              { file: decoders.find((d) => d.key === (e as { field?: string }).field)?.file ?? group, row: r0 + r + 1 },
              opts.onRejectedRow,
              (f) => obj[f],
              () => obj,
            );
          }
        }
        const n = builder.rowCount;
        if (n > 0) yield builder.flush(group, batchFirst);
        batchFirst += n;
      }
    },
  };
}
