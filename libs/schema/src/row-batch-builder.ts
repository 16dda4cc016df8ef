import { SchemaError, SchemaErrorCode } from './schema.errors';
import type { CollectionSchema, Column, FieldSchema, RowBatch } from './types';
import { META_FIELD } from './types';
import {
  metaText,
  toArrayField,
  toBinaryVector,
  toBool,
  toFloat32,
  toFloat64,
  toFloatVector,
  toHalfVector,
  toInt32,
  toInt64,
  toJsonField,
  toMetaObject,
  toSparse,
  toVarChar,
} from './values';

export interface RowValidationOptions {
  /** Skip input keys that are not schema fields instead of failing (job option ignore_unknown_fields). */
  readonly ignoreUnknownFields?: boolean;
  /**
   * About how many bytes of row data a batch may hold (fixed field widths plus string lengths);
   * the batch is full at `capacity` rows or at this many bytes, whichever comes first. Unbounded
   * when absent.
   */
  readonly batchBytes?: number;
}

/**
 * The typed storage of one column of the batch under construction, for parsers that write values
 * straight into it (formats' schema-directed JSON path). Valid until the next flush().
 */
export type DirectStorage = Uint8Array | Int32Array | BigInt64Array | Float32Array | Float64Array | (string | null)[];

/** Running estimate of the variable-width bytes (strings, arrays) of the batch under construction. */
interface VarBytes {
  n: number;
}

/** One schema field's column under construction: values written at row slots, built once per batch. */
interface ColumnSlot {
  set(i: number, v: unknown): void;
  setNull(i: number): void;
  build(n: number): Column;
  /** The array values are written to (null for Array fields, whose values are JS arrays). */
  readonly storage: DirectStorage | null;
  /** Marks row i as holding a value (after a direct write). */
  markValid(i: number): void;
}

/** Bytes a row takes in a batch column apart from string/array contents (which VarBytes counts). */
export function fixedFieldBytes(f: FieldSchema): number {
  switch (f.dataType) {
    case 'Bool':
      return 1;
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Float':
      return 4;
    case 'Int64':
    case 'Double':
      return 8;
    case 'FloatVector':
      return 4 * (f.dim ?? 0);
    case 'BinaryVector':
      return (f.dim ?? 0) / 8;
    case 'Float16Vector':
    case 'BFloat16Vector':
      return 2 * (f.dim ?? 0);
    case 'VarChar':
    case 'JSON':
    case 'SparseFloatVector':
    case 'Array':
      return 8;
  }
}

function validMap(cap: number): {
  valid: Uint8Array | null;
  mark(i: number, ok: boolean): void;
  take(n: number): Uint8Array | null;
} {
  const state = {
    valid: null as Uint8Array | null,
    mark(i: number, ok: boolean): void {
      if (!ok && state.valid === null) {
        state.valid = new Uint8Array(cap).fill(1);
      }
      if (state.valid !== null) state.valid[i] = ok ? 1 : 0;
    },
    take(n: number): Uint8Array | null {
      return state.valid === null ? null : state.valid.subarray(0, n);
    },
  };
  return state;
}

function slotFor(f: FieldSchema, cap: number, varBytes: VarBytes): ColumnSlot {
  switch (f.dataType) {
    case 'Bool': {
      const values = new Uint8Array(cap);
      const v = validMap(cap);
      return {
        set: (i, x) => {
          values[i] = toBool(f, x) ? 1 : 0;
          v.mark(i, true);
        },
        setNull: (i) => {
          values[i] = 0;
          v.mark(i, false);
        },
        build: (n) => ({ kind: 'bool', values: values.subarray(0, n), valid: v.take(n) }),
        storage: values,
        markValid: (i) => v.mark(i, true),
      };
    }
    case 'Int8':
    case 'Int16':
    case 'Int32': {
      const type = f.dataType;
      const values = new Int32Array(cap);
      const v = validMap(cap);
      return {
        set: (i, x) => {
          values[i] = toInt32(f, type, x);
          v.mark(i, true);
        },
        setNull: (i) => {
          values[i] = 0;
          v.mark(i, false);
        },
        build: (n) => ({ kind: 'int32', values: values.subarray(0, n), valid: v.take(n) }),
        storage: values,
        markValid: (i) => v.mark(i, true),
      };
    }
    case 'Int64': {
      const values = new BigInt64Array(cap);
      const v = validMap(cap);
      return {
        set: (i, x) => {
          values[i] = toInt64(f, x);
          v.mark(i, true);
        },
        setNull: (i) => {
          values[i] = 0n;
          v.mark(i, false);
        },
        build: (n) => ({ kind: 'int64', values: values.subarray(0, n), valid: v.take(n) }),
        storage: values,
        markValid: (i) => v.mark(i, true),
      };
    }
    case 'Float':
    case 'Double': {
      const isFloat = f.dataType === 'Float';
      const values = isFloat ? new Float32Array(cap) : new Float64Array(cap);
      const v = validMap(cap);
      return {
        set: (i, x) => {
          values[i] = isFloat ? toFloat32(f, x) : toFloat64(f, x);
          v.mark(i, true);
        },
        setNull: (i) => {
          values[i] = 0;
          v.mark(i, false);
        },
        build: (n) =>
          values instanceof Float32Array
            ? { kind: 'float32', values: values.subarray(0, n), valid: v.take(n) }
            : { kind: 'float64', values: values.subarray(0, n), valid: v.take(n) },
        storage: values,
        markValid: (i) => v.mark(i, true),
      };
    }
    case 'VarChar':
    case 'JSON':
    case 'SparseFloatVector': {
      const convert =
        f.dataType === 'VarChar'
          ? (x: unknown) => toVarChar(f, x)
          : f.dataType === 'JSON'
            ? (x: unknown) => toJsonField(f, x)
            : (x: unknown) => toSparse(f, x);
      const values = new Array<string | null>(cap).fill(null);
      return {
        set: (i, x) => {
          const text = convert(x);
          values[i] = text;
          varBytes.n += text.length;
        },
        setNull: (i) => {
          values[i] = null;
        },
        build: (n) => ({ kind: 'text', values: values.slice(0, n) }),
        storage: values,
        markValid: () => undefined,
      };
    }
    case 'Array': {
      const values = new Array<(boolean | number | bigint | string)[] | null>(cap).fill(null);
      return {
        set: (i, x) => {
          const arr = toArrayField(f, x);
          values[i] = arr;
          varBytes.n += 8 * arr.length;
        },
        setNull: (i) => {
          values[i] = null;
        },
        build: (n) => ({ kind: 'array', values: values.slice(0, n) }),
        storage: null,
        markValid: () => undefined,
      };
    }
    case 'FloatVector': {
      const dim = f.dim ?? 0;
      const values = new Float32Array(cap * dim);
      return {
        set: (i, x) => toFloatVector(f, dim, x, values, i * dim),
        setNull: () => {
          throw new SchemaError(SchemaErrorCode.NullNotAllowed, f.name, `field '${f.name}' cannot be null`);
        },
        build: (n) => ({ kind: 'floatVector', dim, values: values.subarray(0, n * dim) }),
        storage: values,
        markValid: () => undefined,
      };
    }
    case 'BinaryVector': {
      const width = (f.dim ?? 0) / 8;
      const values = new Uint8Array(cap * width);
      return {
        set: (i, x) => toBinaryVector(f, width, x, values, i * width),
        setNull: () => {
          throw new SchemaError(SchemaErrorCode.NullNotAllowed, f.name, `field '${f.name}' cannot be null`);
        },
        build: (n) => ({ kind: 'bytes', width, values: values.subarray(0, n * width) }),
        storage: values,
        markValid: () => undefined,
      };
    }
    case 'Float16Vector':
    case 'BFloat16Vector': {
      const type = f.dataType;
      const dim = f.dim ?? 0;
      const width = 2 * dim;
      const values = new Uint8Array(cap * width);
      return {
        set: (i, x) => toHalfVector(f, type, dim, x, values, i * width),
        setNull: () => {
          throw new SchemaError(SchemaErrorCode.NullNotAllowed, f.name, `field '${f.name}' cannot be null`);
        },
        build: (n) => ({ kind: 'bytes', width, values: values.subarray(0, n * width) }),
        storage: values,
        markValid: () => undefined,
      };
    }
  }
}

interface FieldEntry {
  readonly field: FieldSchema;
  readonly index: number;
  /** Set for the auto-generated primary key, which has no column and must be absent from input. */
  readonly autoPk: boolean;
}

/**
 * Coerces and validates rows against a collection schema (formats.md §2–3) and accumulates them in
 * the columnar RowBatch form. One instance per reader (or per insert request); `addRow` is the
 * single entry point every format and entities/insert use, so the rules live in one place.
 *
 * A failed addRow throws SchemaError naming the field and leaves the batch as it was (the slot is
 * overwritten by the next row).
 */
export class RowBatchBuilder {
  private readonly entries: FieldEntry[];
  private readonly byName = new Map<string, FieldEntry>();
  private readonly dynamic: boolean;
  private readonly ignoreUnknown: boolean;
  private slots: Map<string, ColumnSlot> = new Map();
  /** The same slots by field index (null for the auto-generated key), for per-row loops without lookups. */
  private slotList: (ColumnSlot | null)[] = [];
  private meta: string[] = [];
  private readonly seen: Int32Array;
  private n = 0;
  private generation = 0;
  private readonly varBytes: VarBytes = { n: 0 };
  /** Bytes of one row without its strings and arrays. */
  readonly fixedRowBytes: number;
  private readonly maxBytes: number;
  /** Rows a batch holds at most: the requested rows, fewer when `batchBytes` allows fewer. */
  readonly capacity: number;
  private epochValue = 0;

  constructor(
    readonly schema: CollectionSchema,
    maxRows: number,
    opts: RowValidationOptions = {},
  ) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`batch capacity must be ≥ 1, got ${maxRows}`);
    const maxBytes = opts.batchBytes ?? Infinity;
    if (!(maxBytes > 0)) throw new RangeError(`batch bytes must be > 0, got ${maxBytes}`);
    this.entries = schema.fields.map((field, index) => ({ field, index, autoPk: field.isPrimary && field.autoId }));
    for (const e of this.entries) this.byName.set(e.field.name, e);
    this.dynamic = schema.enableDynamicField;
    this.ignoreUnknown = opts.ignoreUnknownFields ?? false;
    this.seen = new Int32Array(this.entries.length);
    this.fixedRowBytes = this.entries.reduce((a, e) => a + (e.autoPk ? 0 : fixedFieldBytes(e.field)), 0);
    this.maxBytes = maxBytes;
    // Storage is allocated for `capacity` rows up front, so the byte bound must cap the row count too:
    // a 32,768-dim vector must not allocate 10,000 rows × 128 KiB.
    this.capacity = Math.max(1, Math.min(maxRows, Math.floor(maxBytes / Math.max(1, this.fixedRowBytes))));
    this.reset();
  }

  get rowCount(): number {
    return this.n;
  }

  /** Estimated bytes of the rows accumulated so far (fixed widths plus string lengths). */
  get byteSize(): number {
    return this.n * this.fixedRowBytes + this.varBytes.n;
  }

  get isFull(): boolean {
    return this.n >= this.capacity || this.byteSize >= this.maxBytes;
  }

  /** Changes whenever the column storage is replaced (at every flush), so direct writers re-fetch it. */
  get epoch(): number {
    return this.epochValue;
  }

  private reset(): void {
    this.slots = new Map();
    this.slotList = this.entries.map((e) => {
      if (e.autoPk) return null;
      const slot = slotFor(e.field, this.capacity, this.varBytes);
      this.slots.set(e.field.name, slot);
      return slot;
    });
    this.meta = [];
    this.n = 0;
    this.varBytes.n = 0;
    this.epochValue++;
  }

  /** Input keys/columns/files that are schema fields (for whole-file checks by columnar readers). */
  fieldNamed(name: string): FieldSchema | undefined {
    return this.byName.get(name)?.field;
  }

  /**
   * The storage a direct writer fills for field `name` at row `rowCount` (see directCommit); null
   * for Array fields and the auto-generated primary key. Valid until flush() (watch `epoch`).
   */
  directStorage(name: string): DirectStorage | null {
    return this.slots.get(name)?.storage ?? null;
  }

  /** Converts and stores one value of the row being written directly, as addRow would. */
  directSet(name: string, value: unknown): void {
    if (this.n >= this.capacity) throw new RangeError('batch is full: flush() first');
    this.slots.get(name)!.set(this.n, value);
  }

  /**
   * Completes a row whose values a direct writer stored at row `rowCount`: `present[k]` is 1 for
   * each schema field (by index) written, `varBytes` the lengths of its strings. Absent fields get
   * their default or NULL as in addRow, or it throws the same SchemaError and the row is not added.
   * Only for schemas without the dynamic field.
   */
  directCommit(present: Uint8Array, varBytes: number): void {
    if (this.n >= this.capacity) throw new RangeError('batch is full: flush() first');
    if (this.dynamic) throw new Error('directCommit is for schemas without the dynamic field');
    const i = this.n;
    const slots = this.slotList;
    for (let k = 0; k < slots.length; k++) {
      const slot = slots[k];
      if (slot === null || slot === undefined) continue;
      if (present[k] === 1) {
        slot.markValid(i);
        continue;
      }
      const f = this.entries[k]!.field;
      if (f.defaultValue !== undefined) slot.set(i, f.defaultValue);
      else if (f.nullable) slot.setNull(i);
      else throw new SchemaError(SchemaErrorCode.MissingField, f.name, `value of field '${f.name}' is missed`);
    }
    this.varBytes.n += varBytes;
    this.n++;
  }

  /**
   * Adds one row given as an object of input values. Values may be what the exact JSON parser or
   * JSON.parse produce, or typed arrays / bigint from Parquet and NumPy. `undefined` counts as absent.
   */
  addRow(row: Readonly<Record<string, unknown>>): void {
    if (this.n >= this.capacity) throw new RangeError('batch is full: flush() first');
    const i = this.n;
    const gen = ++this.generation;
    let extras: Record<string, unknown> | null = null;
    let explicitMeta: unknown = undefined;
    for (const key of Object.keys(row)) {
      const value = row[key];
      if (value === undefined) continue;
      const e = this.byName.get(key);
      if (e !== undefined) {
        const f = e.field;
        if (e.autoPk)
          throw new SchemaError(
            SchemaErrorCode.AutoIdPresent,
            f.name,
            `the primary key '${f.name}' is auto-generated, no need to provide`,
          );
        this.seen[e.index] = gen;
        const slot = this.slots.get(f.name)!;
        if (value === null) this.setNullOrDefault(f, slot, i);
        else slot.set(i, value);
      } else if (key === META_FIELD && this.dynamic) {
        explicitMeta = value;
      } else if (this.dynamic) {
        (extras ??= {})[key] = value;
      } else if (!this.ignoreUnknown) {
        throw new SchemaError(SchemaErrorCode.UnknownField, key, `field '${key}' is not defined in the schema`);
      }
    }
    for (const e of this.entries) {
      if (e.autoPk || this.seen[e.index] === gen) continue;
      const f = e.field;
      const slot = this.slots.get(f.name)!;
      if (f.defaultValue !== undefined) slot.set(i, f.defaultValue);
      else if (f.nullable) slot.setNull(i);
      else throw new SchemaError(SchemaErrorCode.MissingField, f.name, `value of field '${f.name}' is missed`);
    }
    if (this.dynamic) {
      const meta = this.metaFor(explicitMeta, extras);
      this.meta[i] = meta;
      this.varBytes.n += meta.length;
    }
    this.n++;
  }

  private setNullOrDefault(f: FieldSchema, slot: ColumnSlot, i: number): void {
    if (f.defaultValue !== undefined) slot.set(i, f.defaultValue);
    else if (f.nullable) slot.setNull(i);
    else throw new SchemaError(SchemaErrorCode.NullNotAllowed, f.name, `field '${f.name}' cannot be null`);
  }

  private metaFor(explicit: unknown, extras: Record<string, unknown> | null): string {
    if (explicit === undefined || explicit === null) return extras === null ? '{}' : metaText(extras);
    const base = toMetaObject(explicit);
    if (extras === null) return metaText(base);
    const merged: Record<string, unknown> = {};
    for (const k of Object.keys(base)) merged[k] = base[k];
    for (const k of Object.keys(extras)) {
      if (Object.hasOwn(merged, k))
        throw new SchemaError(SchemaErrorCode.DuplicateMetaKey, META_FIELD, `duplicated key in dynamic field: ${k}`);
      merged[k] = extras[k];
    }
    return metaText(merged);
  }

  /** Hands out the accumulated rows as a RowBatch and starts a new, empty one. */
  flush(file: string, firstRow: number): RowBatch {
    const n = this.n;
    const columns = new Map<string, Column>();
    for (const [name, slot] of this.slots) columns.set(name, slot.build(n));
    const batch: RowBatch = { file, firstRow, rowCount: n, columns, meta: this.dynamic ? this.meta.slice(0, n) : null };
    this.reset();
    return batch;
  }
}

/**
 * The entities/insert path: validates rows given as parsed JSON objects (Int64 as number or
 * decimal string; binary/float16/bfloat16 vectors also as base64) into one RowBatch. A rejected
 * row throws SchemaError whose message reads `row <n>, field '<f>': <problem>` (rows counted from 1).
 */
export function rowsToBatch(
  schema: CollectionSchema,
  rows: readonly unknown[],
  opts: RowValidationOptions & { file?: string } = {},
): RowBatch {
  const builder = new RowBatchBuilder(schema, Math.max(1, rows.length), opts);
  rows.forEach((row, k) => {
    if (row === null || typeof row !== 'object' || Array.isArray(row))
      throw new SchemaError(SchemaErrorCode.TypeMismatch, '', 'each row must be a JSON object', k + 1);
    try {
      builder.addRow(row as Record<string, unknown>);
    } catch (e) {
      if (e instanceof SchemaError) throw e.atRow(k + 1);
      throw e;
    }
  });
  return builder.flush(opts.file ?? 'data', 1);
}
