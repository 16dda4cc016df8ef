import { endianness } from 'node:os';
import { columnType, quoteIdent, type VectorStorage } from '@gw/collections';
import { META_FIELD, type Column, type FieldSchema, type RowBatch, type ScalarType } from '@gw/schema';
import { ChunkWriter } from './chunk-writer';
import { SinkError, SinkErrorCode } from './sink.errors';

/** A column with the same value in every row (`"$partition"`, the staging group…). */
export interface ExtraColumn {
  readonly name: string;
  readonly type: 'text' | 'integer' | 'bigint' | 'boolean';
  readonly value: string | number | bigint | boolean | null;
}

export interface LayoutInput {
  /** The collection's fields in schema order (an autoId primary key is skipped). */
  readonly fields: readonly FieldSchema[];
  readonly storage: VectorStorage;
  /** enableDynamicField: batches carry `meta`, copied into `"$meta"`. */
  readonly dynamicField: boolean;
  /** Appended after the fields and `$meta`, in this order. */
  readonly extra?: readonly ExtraColumn[];
}

export interface LayoutColumn {
  readonly name: string;
  /** The quoted identifier. */
  readonly ident: string;
  /** PostgreSQL column type (`columnType()` for fields). */
  readonly sqlType: string;
  readonly origin: 'field' | 'meta' | 'extra';
}

type RowEncoder = (w: ChunkWriter, row: number) => void;

interface FieldPlan {
  readonly field: FieldSchema;
  readonly kind: Column['kind'];
  /** Shape problem of a column of this kind for n rows, or null. */
  check(col: Column, n: number): string | null;
  bind(col: Column): RowEncoder;
}

const HOST_LE = endianness() === 'LE';
const MAX_ROWS_CHECK = 0x7fffffff;

/** PostgreSQL binary COPY file header: signature, flags, header-extension length. */
export const COPY_HEADER: Buffer = Buffer.concat([
  Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]),
]);
/** File trailer: a tuple field count of -1. */
export const COPY_TRAILER: Buffer = Buffer.from([0xff, 0xff]);

const writeNull = (w: ChunkWriter): void => w.int32(-1);

function outOfRange(field: string, v: number | bigint, type: string): SinkError {
  return new SinkError(SinkErrorCode.ValueOutOfRange, `field '${field}': ${String(v)} does not fit ${type}`, {
    details: { field },
  });
}

/** UTF-8 text (or jsonb with its version byte) with its length word. */
function writeText(w: ChunkWriter, s: string, jsonb: boolean): void {
  const extra = jsonb ? 1 : 0;
  w.ensure(4 + extra + s.length * 3);
  const start = w.pos;
  if (jsonb) w.buf[start + 4] = 1;
  const n = w.buf.write(s, start + 4 + extra, 'utf8');
  w.dv.setInt32(start, n + extra);
  w.pos = start + 4 + extra + n;
}

function scalarPlan(f: FieldSchema): FieldPlan {
  const name = f.name;
  switch (f.dataType) {
    case 'Bool':
      return plan(f, 'bool', (col) => {
        const { values, valid } = col;
        return (w, i) => {
          if (valid !== null && valid[i] === 0) return writeNull(w);
          w.ensure(5);
          w.dv.setInt32(w.pos, 1);
          w.buf[w.pos + 4] = values[i] !== 0 ? 1 : 0;
          w.pos += 5;
        };
      });
    case 'Int8':
    case 'Int16':
      return plan(f, 'int32', (col) => {
        const { values, valid } = col;
        return (w, i) => {
          if (valid !== null && valid[i] === 0) return writeNull(w);
          const v = values[i]!;
          if (v < -32768 || v > 32767) throw outOfRange(name, v, 'smallint');
          w.ensure(6);
          w.dv.setInt32(w.pos, 2);
          w.dv.setInt16(w.pos + 4, v);
          w.pos += 6;
        };
      });
    case 'Int32':
      return plan(f, 'int32', (col) => {
        const { values, valid } = col;
        return (w, i) => {
          if (valid !== null && valid[i] === 0) return writeNull(w);
          w.ensure(8);
          w.dv.setInt32(w.pos, 4);
          w.dv.setInt32(w.pos + 4, values[i]!);
          w.pos += 8;
        };
      });
    case 'Int64':
      return plan(f, 'int64', (col) => {
        const { values, valid } = col;
        return (w, i) => {
          if (valid !== null && valid[i] === 0) return writeNull(w);
          w.ensure(12);
          w.dv.setInt32(w.pos, 8);
          w.dv.setBigInt64(w.pos + 4, values[i]!);
          w.pos += 12;
        };
      });
    case 'Float':
      return plan(f, 'float32', (col) => {
        const { values, valid } = col;
        return (w, i) => {
          if (valid !== null && valid[i] === 0) return writeNull(w);
          w.ensure(8);
          w.dv.setInt32(w.pos, 4);
          w.dv.setFloat32(w.pos + 4, values[i]!);
          w.pos += 8;
        };
      });
    case 'Double':
      return plan(f, 'float64', (col) => {
        const { values, valid } = col;
        return (w, i) => {
          if (valid !== null && valid[i] === 0) return writeNull(w);
          w.ensure(12);
          w.dv.setInt32(w.pos, 8);
          w.dv.setFloat64(w.pos + 4, values[i]!);
          w.pos += 12;
        };
      });
    default:
      throw new Error(`not a scalar: ${f.dataType}`);
  }
}

/** Element type OIDs and fixed widths (0 = variable) of one-dimensional arrays. */
const ELEMENT: Record<ScalarType, { oid: number; width: number }> = {
  Bool: { oid: 16, width: 1 },
  Int8: { oid: 21, width: 2 },
  Int16: { oid: 21, width: 2 },
  Int32: { oid: 23, width: 4 },
  Int64: { oid: 20, width: 8 },
  Float: { oid: 700, width: 4 },
  Double: { oid: 701, width: 8 },
  VarChar: { oid: 25, width: 0 },
};

type Elem = boolean | number | bigint | string;

/** Writes one element (with its length word) at p; the room is already ensured. Returns the new position. */
function elementWriter(t: ScalarType, field: string): (w: ChunkWriter, p: number, v: Elem) => number {
  switch (t) {
    case 'Bool':
      return (w, p, v) => {
        w.dv.setInt32(p, 1);
        w.buf[p + 4] = v === true ? 1 : 0;
        return p + 5;
      };
    case 'Int8':
    case 'Int16':
      return (w, p, v) => {
        const n = Number(v);
        if (!(n >= -32768 && n <= 32767)) throw outOfRange(field, n, 'smallint');
        w.dv.setInt32(p, 2);
        w.dv.setInt16(p + 4, n);
        return p + 6;
      };
    case 'Int32':
      return (w, p, v) => {
        const n = Number(v);
        if ((n | 0) !== n) throw outOfRange(field, n, 'integer');
        w.dv.setInt32(p, 4);
        w.dv.setInt32(p + 4, n);
        return p + 8;
      };
    case 'Int64':
      return (w, p, v) => {
        const n = typeof v === 'bigint' ? v : BigInt(v);
        if (BigInt.asIntN(64, n) !== n) throw outOfRange(field, n, 'bigint');
        w.dv.setInt32(p, 8);
        w.dv.setBigInt64(p + 4, n);
        return p + 12;
      };
    case 'Float':
      return (w, p, v) => {
        w.dv.setInt32(p, 4);
        w.dv.setFloat32(p + 4, Number(v));
        return p + 8;
      };
    case 'Double':
      return (w, p, v) => {
        w.dv.setInt32(p, 8);
        w.dv.setFloat64(p + 4, Number(v));
        return p + 12;
      };
    case 'VarChar':
      return (w, p, v) => {
        const n = w.buf.write(String(v), p + 4, 'utf8');
        w.dv.setInt32(p, n);
        return p + 4 + n;
      };
  }
}

/** Array header (ndim 1, no NULLs, element OID, length, lower bound 1) after the length word at p. */
function arrayHeader(w: ChunkWriter, p: number, oid: number, len: number): void {
  w.dv.setInt32(p + 4, 1);
  w.dv.setInt32(p + 8, 0);
  w.dv.setInt32(p + 12, oid);
  w.dv.setInt32(p + 16, len);
  w.dv.setInt32(p + 20, 1);
}

function arrayPlan(f: FieldSchema): FieldPlan {
  const t = f.elementType;
  if (t === undefined) throw new Error(`field ${f.name}: Array without elementType`);
  const { oid, width } = ELEMENT[t];
  const put = elementWriter(t, f.name);
  return plan(f, 'array', (col) => {
    const values = col.values;
    return (w, i) => {
      const a = values[i];
      if (a === null || a === undefined) return writeNull(w);
      if (a.length === 0) {
        // ndim 0 is how PostgreSQL itself sends an empty array.
        w.ensure(16);
        w.dv.setInt32(w.pos, 12);
        w.dv.setInt32(w.pos + 4, 0);
        w.dv.setInt32(w.pos + 8, 0);
        w.dv.setInt32(w.pos + 12, oid);
        w.pos += 16;
        return;
      }
      // One ensure for the whole value, so the length word can be written after the elements.
      let room = 24 + a.length * (4 + width);
      if (width === 0) for (const s of a) room += String(s).length * 3;
      w.ensure(room);
      const start = w.pos;
      arrayHeader(w, start, oid, a.length);
      let p = start + 24;
      for (const v of a) p = put(w, p, v);
      w.dv.setInt32(start, p - start - 4);
      w.pos = p;
    };
  });
}

function floatVectorPlan(f: FieldSchema, pgvector: boolean): FieldPlan {
  const dim = f.dim!;
  return plan(
    f,
    'floatVector',
    (col) => {
      const values = col.values;
      if (pgvector) {
        // vector_recv: uint16 dim, uint16 unused (0), dim × float4, all big-endian.
        const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
        const len = 4 + 4 * dim;
        return (w, i) => {
          w.ensure(4 + len);
          const p = w.pos;
          w.dv.setInt32(p, len);
          w.dv.setUint16(p + 4, dim);
          w.dv.setUint16(p + 6, 0);
          if (HOST_LE) {
            w.buf.set(bytes.subarray(i * dim * 4, (i + 1) * dim * 4), p + 8);
            w.buf.subarray(p + 8, p + 8 + 4 * dim).swap32();
          } else {
            for (let k = 0, o = i * dim; k < dim; k++) w.dv.setFloat32(p + 8 + 4 * k, values[o + k]!);
          }
          w.pos = p + 4 + len;
        };
      }
      const len = 20 + 8 * dim;
      return (w, i) => {
        w.ensure(4 + len);
        const start = w.pos;
        w.dv.setInt32(start, len);
        arrayHeader(w, start, 700, dim);
        const dv = w.dv;
        let p = start + 24;
        for (let k = 0, o = i * dim; k < dim; k++, p += 8) {
          dv.setInt32(p, 4);
          dv.setFloat32(p + 4, values[o + k]!);
        }
        w.pos = p;
      };
    },
    (col) => (col.dim !== dim ? `dim ${col.dim}, expected ${dim}` : null),
  );
}

function bytesPlan(f: FieldSchema, storage: VectorStorage): FieldPlan {
  const dim = f.dim!;
  const binary = f.dataType === 'BinaryVector';
  const width = binary ? dim / 8 : 2 * dim;
  const halfvec = f.dataType === 'Float16Vector' && storage.halfvec;
  return plan(
    f,
    'bytes',
    (col) => {
      const values = col.values;
      if (binary) {
        // bit_recv: int32 bit length, then the bits, most significant first (Milvus's packing too).
        return (w, i) => {
          w.ensure(8 + width);
          w.dv.setInt32(w.pos, 4 + width);
          w.dv.setInt32(w.pos + 4, dim);
          w.buf.set(values.subarray(i * width, (i + 1) * width), w.pos + 8);
          w.pos += 8 + width;
        };
      }
      if (halfvec) {
        // halfvec_recv: uint16 dim, uint16 unused (0), dim × IEEE half big-endian; ours arrive little-endian.
        return (w, i) => {
          w.ensure(8 + width);
          const p = w.pos;
          w.dv.setInt32(p, 4 + width);
          w.dv.setUint16(p + 4, dim);
          w.dv.setUint16(p + 6, 0);
          w.buf.set(values.subarray(i * width, (i + 1) * width), p + 8);
          w.buf.subarray(p + 8, p + 8 + width).swap16();
          w.pos = p + 8 + width;
        };
      }
      return (w, i) => {
        w.ensure(4 + width);
        w.dv.setInt32(w.pos, width);
        w.buf.set(values.subarray(i * width, (i + 1) * width), w.pos + 4);
        w.pos += 4 + width;
      };
    },
    (col) => (col.width !== width ? `width ${col.width} bytes, expected ${width}` : null),
  );
}

function textPlan(f: FieldSchema): FieldPlan {
  const jsonb = f.dataType !== 'VarChar';
  return plan(f, 'text', (col) => {
    const values = col.values;
    return (w, i) => {
      const s = values[i];
      if (s === null || s === undefined) return writeNull(w);
      writeText(w, s, jsonb);
    };
  });
}

type ColumnOf<K extends Column['kind']> = Extract<Column, { kind: K }>;

function plan<K extends Column['kind']>(
  field: FieldSchema,
  kind: K,
  bind: (col: ColumnOf<K>) => RowEncoder,
  shape?: (col: ColumnOf<K>) => string | null,
): FieldPlan {
  return {
    field,
    kind,
    check(col, n) {
      if (col.kind !== kind) return `a '${col.kind}' column, expected '${kind}'`;
      const problem = shape?.(col as ColumnOf<K>) ?? null;
      if (problem !== null) return problem;
      const c: Column = col;
      const per = c.kind === 'floatVector' ? c.dim : c.kind === 'bytes' ? c.width : 1;
      if (c.values.length < n * per) return `${c.values.length} values for ${n} rows`;
      if ('valid' in c && c.valid !== null && c.valid.length < n)
        return `a presence map of ${c.valid.length} for ${n} rows`;
      return null;
    },
    bind: (col) => bind(col as ColumnOf<K>),
  };
}

function fieldPlan(f: FieldSchema, storage: VectorStorage): FieldPlan {
  switch (f.dataType) {
    case 'VarChar':
    case 'JSON':
    case 'SparseFloatVector':
      return textPlan(f);
    case 'Array':
      return arrayPlan(f);
    case 'FloatVector':
      return floatVectorPlan(f, storage.vectorType === 'pgvector');
    case 'BinaryVector':
    case 'Float16Vector':
    case 'BFloat16Vector':
      return bytesPlan(f, storage);
    default:
      return scalarPlan(f);
  }
}

function encodeExtra(c: ExtraColumn): Buffer {
  const w = new ChunkWriter(64);
  const v = c.value;
  if (v === null) w.int32(-1);
  else if (c.type === 'text') writeText(w, String(v), false);
  else if (c.type === 'boolean') {
    w.int32(1);
    w.bytes(Uint8Array.of(v === true ? 1 : 0));
  } else if (c.type === 'integer') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw outOfRange(c.name, n, 'integer');
    w.int32(4);
    w.int32(n);
  } else {
    const n = BigInt(v);
    w.int32(8);
    w.ensure(8);
    w.dv.setBigInt64(w.pos, n);
    w.pos += 8;
  }
  return Buffer.concat(w.takeAll());
}

/**
 * The ordered columns of a COPY into a collection (or staging) table and how to encode each from a
 * RowBatch: the schema fields except an autoId primary key (the table's identity generates it),
 * then `"$meta"` with the dynamic field, then the extra constant columns.
 */
export class CopyLayout {
  readonly columns: readonly LayoutColumn[];
  /** `"a", "b", …`: the column list of the COPY and of INSERT … SELECT. */
  readonly columnList: string;
  private readonly plans: readonly FieldPlan[];
  private readonly extraBytes: Buffer;

  constructor(readonly input: LayoutInput) {
    const { fields, storage, dynamicField } = input;
    const extra = input.extra ?? [];
    this.plans = fields.filter((f) => !(f.isPrimary && f.autoId)).map((f) => fieldPlan(f, storage));
    const cols: LayoutColumn[] = this.plans.map((p) => ({
      name: p.field.name,
      ident: quoteIdent(p.field.name),
      sqlType: columnType(p.field, storage),
      origin: 'field',
    }));
    if (dynamicField) cols.push({ name: META_FIELD, ident: quoteIdent(META_FIELD), sqlType: 'jsonb', origin: 'meta' });
    for (const e of extra) cols.push({ name: e.name, ident: quoteIdent(e.name), sqlType: e.type, origin: 'extra' });
    const seen = new Set<string>();
    for (const c of cols) {
      if (seen.has(c.name)) throw new Error(`copy layout: column ${c.name} appears twice`);
      seen.add(c.name);
    }
    if (cols.length > 1600) throw new Error('copy layout: more than 1600 columns');
    this.columns = cols;
    this.columnList = cols.map((c) => c.ident).join(', ');
    this.extraBytes = Buffer.concat(extra.map(encodeExtra));
  }

  /** The same layout with other values for the extra columns (same names and types, in order). */
  withExtraValues(values: readonly ExtraColumn['value'][]): CopyLayout {
    const extra = this.input.extra ?? [];
    if (values.length !== extra.length)
      throw new Error(`copy layout: ${values.length} extra values for ${extra.length} columns`);
    return new CopyLayout({ ...this.input, extra: extra.map((e, k) => ({ ...e, value: values[k] ?? null })) });
  }

  /** Throws SinkError(LayoutMismatch) unless the batch has exactly this layout's field columns, shaped right. */
  checkBatch(batch: RowBatch): void {
    const n = batch.rowCount;
    const bad = (problem: string): SinkError =>
      new SinkError(SinkErrorCode.LayoutMismatch, `batch from ${batch.file} (row ${batch.firstRow}): ${problem}`, {
        details: { file: batch.file, row: batch.firstRow },
      });
    if (!Number.isInteger(n) || n < 0 || n > MAX_ROWS_CHECK) throw bad(`invalid rowCount ${n}`);
    if (batch.columns.size !== this.plans.length || this.plans.some((p) => !batch.columns.has(p.field.name))) {
      const want = new Set(this.plans.map((p) => p.field.name));
      const extra = [...batch.columns.keys()].filter((k) => !want.has(k));
      const missing = [...want].filter((k) => !batch.columns.has(k));
      throw bad(`columns differ from the layout (unexpected: [${extra.join(', ')}], missing: [${missing.join(', ')}])`);
    }
    for (const p of this.plans) {
      const col = batch.columns.get(p.field.name);
      if (col === undefined) throw bad(`no column for field '${p.field.name}'`);
      const problem = p.check(col, n);
      if (problem !== null) throw bad(`field '${p.field.name}': ${problem}`);
    }
    const dynamic = this.input.dynamicField;
    if (dynamic && batch.meta === null) throw bad('no $meta values but the dynamic field is on');
    if (!dynamic && batch.meta !== null) throw bad('$meta values but the dynamic field is off');
    if (batch.meta !== null && batch.meta.length < n) throw bad(`${batch.meta.length} $meta values for ${n} rows`);
  }

  /**
   * Encodes the batch's rows [from, to) (all by default) as binary COPY tuples into w, yielding each
   * chunk as soon as it is full (the last, partly filled chunk stays in w). Call checkBatch first.
   */
  *encodeRows(batch: RowBatch, w: ChunkWriter, from = 0, to = batch.rowCount): Generator<Buffer, void, undefined> {
    const encoders = this.plans.map((p) => p.bind(batch.columns.get(p.field.name)!));
    const meta = batch.meta;
    const extra = this.extraBytes;
    const ncols = this.columns.length;
    for (let i = from; i < to; i++) {
      w.int16(ncols);
      for (const enc of encoders) enc(w, i);
      if (meta !== null) writeText(w, meta[i] ?? '{}', true);
      if (extra.length > 0) w.bytes(extra);
      if (w.hasFull) yield* w.takeFull();
    }
  }
}

/** The layout of a COPY into a collection's table (see CopyLayout). */
export function buildCopyLayout(input: LayoutInput): CopyLayout {
  return new CopyLayout(input);
}

/** Default size of the chunks handed to the COPY stream. */
export const DEFAULT_CHUNK_BYTES = 1 << 20;

/**
 * A complete binary COPY payload (header, tuples, trailer) in one Buffer: for small loads and for
 * runners without a COPY stream (PGlite's `COPY … FROM '/dev/blob'`).
 */
export function encodeBinaryCopy(layout: CopyLayout, batches: Iterable<RowBatch>): Buffer {
  const w = new ChunkWriter(DEFAULT_CHUNK_BYTES);
  const chunks: Buffer[] = [];
  w.bytes(COPY_HEADER);
  for (const b of batches) {
    layout.checkBatch(b);
    for (const c of layout.encodeRows(b, w)) chunks.push(c);
  }
  w.bytes(COPY_TRAILER);
  chunks.push(...w.takeAll());
  return Buffer.concat(chunks);
}
