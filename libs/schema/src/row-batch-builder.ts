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
}

/** One schema field's column under construction: values written at row slots, built once per batch. */
interface ColumnSlot {
  set(i: number, v: unknown): void;
  setNull(i: number): void;
  build(n: number): Column;
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

function slotFor(f: FieldSchema, cap: number): ColumnSlot {
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
          values[i] = convert(x);
        },
        setNull: (i) => {
          values[i] = null;
        },
        build: (n) => ({ kind: 'text', values: values.slice(0, n) }),
      };
    }
    case 'Array': {
      const values = new Array<(boolean | number | bigint | string)[] | null>(cap).fill(null);
      return {
        set: (i, x) => {
          values[i] = toArrayField(f, x);
        },
        setNull: (i) => {
          values[i] = null;
        },
        build: (n) => ({ kind: 'array', values: values.slice(0, n) }),
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
  private meta: string[] = [];
  private readonly seen: Int32Array;
  private n = 0;
  private generation = 0;

  constructor(
    readonly schema: CollectionSchema,
    readonly capacity: number,
    opts: RowValidationOptions = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`batch capacity must be ≥ 1, got ${capacity}`);
    this.entries = schema.fields.map((field, index) => ({ field, index, autoPk: field.isPrimary && field.autoId }));
    for (const e of this.entries) this.byName.set(e.field.name, e);
    this.dynamic = schema.enableDynamicField;
    this.ignoreUnknown = opts.ignoreUnknownFields ?? false;
    this.seen = new Int32Array(this.entries.length);
    this.reset();
  }

  get rowCount(): number {
    return this.n;
  }

  get isFull(): boolean {
    return this.n >= this.capacity;
  }

  private reset(): void {
    this.slots = new Map();
    for (const e of this.entries) if (!e.autoPk) this.slots.set(e.field.name, slotFor(e.field, this.capacity));
    this.meta = [];
    this.n = 0;
  }

  /** Input keys/columns/files that are schema fields (for whole-file checks by columnar readers). */
  fieldNamed(name: string): FieldSchema | undefined {
    return this.byName.get(name)?.field;
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
    if (this.dynamic) this.meta[i] = this.metaFor(explicitMeta, extras);
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
