import { fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from './half';
import { JsonDecimal, NotJsonError, parseJsonExact, toJsonText } from './json';
import { JsonSyntaxError, SchemaError, SchemaErrorCode } from './schema.errors';
import type { DataType, FieldSchema, ScalarType } from './types';

/** Largest serialized JSON field / `$meta` value (formats.md §3). */
export const MAX_JSON_BYTES = 65_536;

const INT_RANGES: Record<'Int8' | 'Int16' | 'Int32', readonly [number, number]> = {
  Int8: [-128, 127],
  Int16: [-32768, 32767],
  Int32: [-2147483648, 2147483647],
};
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT32_MAX = 3.4028234663852886e38;
const INT_TEXT = /^[+-]?\d+$/;

/** Short description of an offending value for messages; never dumps a large value. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string')
    return v.length > 40 ? `a string of ${v.length} characters` : `string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof JsonDecimal) return v.text;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return 'an array';
  return 'an object';
}

function err(code: SchemaErrorCode, f: FieldSchema | string, problem: string): SchemaError {
  return new SchemaError(code, typeof f === 'string' ? f : f.name, problem);
}

function mismatch(f: FieldSchema, type: string, v: unknown): SchemaError {
  return err(SchemaErrorCode.TypeMismatch, f, `expected ${type}, got ${describeValue(v)}`);
}

export function toBool(f: FieldSchema, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  throw mismatch(f, 'Bool', v);
}

/** Int8/Int16/Int32: exact integers only (no fraction, no exponent, no string). */
export function toInt32(f: FieldSchema, type: 'Int8' | 'Int16' | 'Int32', v: unknown): number {
  const [min, max] = INT_RANGES[type];
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw mismatch(f, type, v);
    if (v < min || v > max) throw err(SchemaErrorCode.OutOfRange, f, `value ${v} out of range for ${type}`);
    return v;
  }
  if (typeof v === 'bigint') {
    if (v < BigInt(min) || v > BigInt(max))
      throw err(SchemaErrorCode.OutOfRange, f, `value ${v} out of range for ${type}`);
    return Number(v);
  }
  throw mismatch(f, type, v);
}

/** Int64: integer number, bigint, or decimal string (kept exact; never goes through a double). */
export function toInt64(f: FieldSchema, v: unknown): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw mismatch(f, 'Int64', v);
    b = BigInt(v);
  } else if (typeof v === 'string' && INT_TEXT.test(v.trim())) b = BigInt(v.trim());
  else throw mismatch(f, 'Int64', v);
  if (b < INT64_MIN || b > INT64_MAX) throw err(SchemaErrorCode.OutOfRange, f, `value ${b} out of range for Int64`);
  return b;
}

function finiteNumber(f: FieldSchema, type: string, v: unknown): number {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (v instanceof JsonDecimal) n = v.value;
  else if (typeof v === 'bigint') n = Number(v);
  else throw mismatch(f, type, v);
  if (!Number.isFinite(n)) throw err(SchemaErrorCode.NotFinite, f, `value ${describeValue(v)} is not finite`);
  return n;
}

export function toFloat32(f: FieldSchema, v: unknown): number {
  const n = finiteNumber(f, 'Float', v);
  if (Math.abs(n) > FLOAT32_MAX) throw err(SchemaErrorCode.OutOfRange, f, `value ${n} out of range for Float`);
  return n;
}

export function toFloat64(f: FieldSchema, v: unknown): number {
  return finiteNumber(f, 'Double', v);
}

function utf8Length(s: string): number {
  // Every UTF-16 unit is at most 3 UTF-8 bytes; count only when the bound is not enough.
  return Buffer.byteLength(s, 'utf8');
}

function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

export function toVarChar(f: FieldSchema, v: unknown, maxLength = f.maxLength): string {
  if (typeof v !== 'string') throw mismatch(f, 'VarChar', v);
  if (!isWellFormed(v)) throw err(SchemaErrorCode.InvalidUtf8, f, 'invalid UTF-8 (unpaired surrogate)');
  if (maxLength !== undefined && v.length * 3 > maxLength) {
    const b = utf8Length(v);
    if (b > maxLength) throw err(SchemaErrorCode.MaxLength, f, `length ${b} exceeds max_length ${maxLength}`);
  }
  return v;
}

function parseJsonText(f: FieldSchema | string, text: string): unknown {
  try {
    return parseJsonExact(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw err(SchemaErrorCode.InvalidJson, f, `invalid JSON text: ${e.problem}`);
    throw e;
  }
}

function jsonText(f: FieldSchema | string, v: unknown): string {
  let text: string;
  try {
    text = toJsonText(v);
  } catch (e) {
    if (e instanceof NotJsonError) throw err(SchemaErrorCode.InvalidJson, f, e.message);
    throw e;
  }
  if (text.length > MAX_JSON_BYTES / 3) {
    const b = utf8Length(text);
    if (b > MAX_JSON_BYTES)
      throw err(SchemaErrorCode.JsonTooLarge, f, `JSON size ${b} bytes exceeds ${MAX_JSON_BYTES} bytes`);
  }
  return text;
}

/** JSON field: any JSON value; a string is parsed as JSON text (formats.md §3). Returns canonical text. */
export function toJsonField(f: FieldSchema, v: unknown): string {
  return jsonText(f, typeof v === 'string' ? parseJsonText(f, v) : v);
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

export function toFloatVector(f: FieldSchema, dim: number, v: unknown, out: Float32Array, at: number): void {
  if (!isArrayLike(v)) throw mismatch(f, 'FloatVector (array of numbers)', v);
  if (v.length !== dim) throw err(SchemaErrorCode.Dimension, f, `expected ${dim} values, got ${v.length}`);
  if (v instanceof Float32Array) {
    for (let i = 0; i < dim; i++) {
      if (!Number.isFinite(v[i]!)) throw err(SchemaErrorCode.NotFinite, f, `element ${i} is not finite`);
    }
    out.set(v, at);
    return;
  }
  for (let i = 0; i < dim; i++) {
    const x = v[i];
    let n: number;
    if (typeof x === 'number') n = x;
    else if (x instanceof JsonDecimal) n = x.value;
    // Integral literals of 16+ digits (e.g. a float32 of -2^53 printed without a fraction) parse as bigint.
    else if (typeof x === 'bigint') n = Number(x);
    else if (x === null || x === undefined) throw err(SchemaErrorCode.TypeMismatch, f, `null element at index ${i}`);
    else throw err(SchemaErrorCode.TypeMismatch, f, `element ${i}: expected a number, got ${describeValue(x)}`);
    if (!Number.isFinite(n) || Math.abs(n) > FLOAT32_MAX)
      throw err(SchemaErrorCode.NotFinite, f, `element ${i} (${describeValue(x)}) is not a finite float32`);
    out[at + i] = n;
  }
}

function base64Bytes(f: FieldSchema, s: string, width: number): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0)
    throw err(SchemaErrorCode.TypeMismatch, f, 'expected an array or a base64 string, got invalid base64');
  const b = Buffer.from(s, 'base64');
  if (b.length !== width) throw err(SchemaErrorCode.Dimension, f, `expected ${width} bytes, got ${b.length}`);
  return b;
}

/** BinaryVector: dim/8 integers 0–255, a base64 string, or raw bytes. */
export function toBinaryVector(f: FieldSchema, width: number, v: unknown, out: Uint8Array, at: number): void {
  if (typeof v === 'string') {
    out.set(base64Bytes(f, v, width), at);
    return;
  }
  if (!isArrayLike(v)) throw mismatch(f, 'BinaryVector (array of bytes)', v);
  if (v.length !== width) throw err(SchemaErrorCode.Dimension, f, `expected ${width} bytes, got ${v.length}`);
  if (v instanceof Uint8Array) {
    out.set(v, at);
    return;
  }
  for (let i = 0; i < width; i++) {
    const x = v[i];
    const n = typeof x === 'bigint' ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 255)
      throw err(SchemaErrorCode.TypeMismatch, f, `element ${i}: expected an integer 0–255, got ${describeValue(x)}`);
    out[at + i] = n;
  }
}

/**
 * Float16/BFloat16 vectors: dim numbers (rounded to nearest even), a base64 string or raw bytes of
 * 2·dim little-endian bytes, or a Uint16Array of half bits (NumPy float16).
 */
export function toHalfVector(
  f: FieldSchema,
  type: 'Float16Vector' | 'BFloat16Vector',
  dim: number,
  v: unknown,
  out: Uint8Array,
  at: number,
): void {
  const width = 2 * dim;
  if (typeof v === 'string') {
    out.set(base64Bytes(f, v, width), at);
    return;
  }
  if (v instanceof Uint8Array) {
    if (v.length !== width) throw err(SchemaErrorCode.Dimension, f, `expected ${width} bytes, got ${v.length}`);
    out.set(v, at);
    return;
  }
  if (!isArrayLike(v)) throw mismatch(f, `${type} (array of numbers)`, v);
  if (v.length !== dim) throw err(SchemaErrorCode.Dimension, f, `expected ${dim} values, got ${v.length}`);
  const half = v instanceof Uint16Array;
  for (let i = 0; i < dim; i++) {
    let bits: number;
    if (half) {
      const h = v[i] as number;
      bits = type === 'Float16Vector' ? h : toBFloat16Bits(fromFloat16Bits(h));
    } else {
      const x = v[i];
      let n: number;
      if (typeof x === 'number') n = x;
      else if (x instanceof JsonDecimal) n = x.value;
      else if (typeof x === 'bigint') n = Number(x);
      else if (x === null || x === undefined) throw err(SchemaErrorCode.TypeMismatch, f, `null element at index ${i}`);
      else throw err(SchemaErrorCode.TypeMismatch, f, `element ${i}: expected a number, got ${describeValue(x)}`);
      if (!Number.isFinite(n)) throw err(SchemaErrorCode.NotFinite, f, `element ${i} is not finite`);
      bits = type === 'Float16Vector' ? toFloat16Bits(n) : toBFloat16Bits(n);
    }
    if (bits < 0 || ((bits & 0x7c00) === 0x7c00 && type === 'Float16Vector'))
      throw err(SchemaErrorCode.OutOfRange, f, `element ${i} out of range for ${type}`);
    out[at + 2 * i] = bits & 0xff;
    out[at + 2 * i + 1] = bits >>> 8;
  }
}

const MAX_SPARSE_INDEX = 2 ** 32 - 1;

/** Sparse vector in either JSON form (or a string holding one) → canonical text, indices ascending. */
export function toSparse(f: FieldSchema, v: unknown): string {
  const value = typeof v === 'string' ? parseJsonText(f, v) : v;
  if (value === null || typeof value !== 'object' || isArrayLike(value))
    throw mismatch(f, 'SparseFloatVector (JSON object)', value);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  const bad = (why: string): SchemaError => err(SchemaErrorCode.InvalidSparse, f, `invalid sparse vector: ${why}`);
  const idx: number[] = [];
  const vals: number[] = [];
  const addIndex = (raw: unknown): void => {
    let n: number;
    if (typeof raw === 'number') n = raw;
    else if (typeof raw === 'bigint') n = Number(raw);
    else if (typeof raw === 'string' && /^\d+$/.test(raw)) n = Number(raw);
    else throw bad(`index ${describeValue(raw)} is not a non-negative integer`);
    if (!Number.isInteger(n) || n < 0) throw bad(`index ${describeValue(raw)} is not a non-negative integer`);
    if (n >= MAX_SPARSE_INDEX) throw bad(`index ${n} is not below 2^32-1`);
    idx.push(n);
  };
  const addValue = (raw: unknown): void => {
    const n = raw instanceof JsonDecimal ? raw.value : typeof raw === 'bigint' ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isFinite(n) || Math.abs(n) > FLOAT32_MAX)
      throw bad(`value ${describeValue(raw)} is not a finite float`);
    vals.push(n);
  };
  if (keys.length === 2 && 'indices' in obj && 'values' in obj) {
    const is = obj.indices;
    const vs = obj.values;
    if (!isArrayLike(is) || !isArrayLike(vs)) throw bad('indices and values must be arrays');
    if (is.length !== vs.length) throw bad(`${is.length} indices but ${vs.length} values`);
    for (let i = 0; i < is.length; i++) {
      addIndex(is[i]);
      addValue(vs[i]);
    }
  } else {
    for (const k of keys) {
      addIndex(k);
      addValue(obj[k]);
    }
  }
  const order = idx.map((_, i) => i).sort((a, b) => idx[a]! - idx[b]!);
  const parts: string[] = [];
  for (let j = 0; j < order.length; j++) {
    const i = order[j]!;
    if (j > 0 && idx[i] === idx[order[j - 1]!]) throw bad(`index ${idx[i]} is repeated`);
    parts.push(`"${idx[i]}":${Math.fround(vals[i]!)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Scalar element of an Array field (Int64 elements become bigint). */
export function toElement(f: FieldSchema, type: ScalarType, v: unknown): boolean | number | bigint | string {
  switch (type) {
    case 'Bool':
      return toBool(f, v);
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return toInt32(f, type, v);
    case 'Int64':
      return toInt64(f, v);
    case 'Float':
      return Math.fround(toFloat32(f, v));
    case 'Double':
      return toFloat64(f, v);
    case 'VarChar':
      return toVarChar(f, v);
  }
}

export function toArrayField(f: FieldSchema, v: unknown): (boolean | number | bigint | string)[] {
  const value = typeof v === 'string' ? parseJsonText(f, v) : v;
  if (!isArrayLike(value)) throw mismatch(f, `Array of ${f.elementType ?? '?'}`, value);
  const cap = f.maxCapacity;
  if (cap !== undefined && value.length > cap)
    throw err(SchemaErrorCode.MaxCapacity, f, `${value.length} elements exceed max_capacity ${cap}`);
  const type = f.elementType ?? 'VarChar';
  const out: (boolean | number | bigint | string)[] = new Array<boolean | number | bigint | string>(value.length);
  for (let i = 0; i < value.length; i++) {
    const x = value[i];
    if (x === null || x === undefined) throw err(SchemaErrorCode.TypeMismatch, f, `null element at index ${i}`);
    try {
      out[i] = toElement(f, type, x);
    } catch (e) {
      if (e instanceof SchemaError) throw err(e.code, f, `element ${i}: ${e.problem}`);
      throw e;
    }
  }
  return out;
}

/** `$meta` given explicitly: a JSON object or a string holding one. */
export function toMetaObject(v: unknown): Record<string, unknown> {
  const value = typeof v === 'string' ? parseJsonText('$meta', v) : v;
  if (value === null || typeof value !== 'object' || isArrayLike(value) || value instanceof JsonDecimal)
    throw err(SchemaErrorCode.InvalidMeta, '$meta', `expected a JSON object, got ${describeValue(value)}`);
  return value as Record<string, unknown>;
}

/** Canonical `$meta` text with the 64 KiB limit. */
export function metaText(obj: Record<string, unknown>): string {
  return jsonText('$meta', obj);
}

export function isVectorType(t: DataType): boolean {
  return t.endsWith('Vector');
}
