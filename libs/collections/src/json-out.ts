/**
 * Response values. JS numbers cannot hold every Int64, so Int64 values travel as JsonInt64 (exact
 * decimal text) and JSON/sparse values as RawJson (the stored text); serializeJson renders them.
 */
export class JsonInt64 {
  constructor(readonly value: string) {
    if (!/^-?\d+$/.test(value)) throw new Error(`not an integer: ${value}`);
  }
  /** Plain JSON.stringify gives Milvus's default rendering (a string). */
  toJSON(): string {
    return this.value;
  }
}

export class RawJson {
  /** `text` must be valid JSON (it comes from PostgreSQL's jsonb output). */
  constructor(readonly text: string) {}
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

export type JsonOut = null | boolean | number | string | JsonInt64 | RawJson | readonly JsonOut[] | JsonOutObject;
export interface JsonOutObject {
  readonly [key: string]: JsonOut;
}

export interface SerializeOptions {
  /** Header `Accept-Type-Allow-Int64: true`: Int64 values as JSON numbers instead of strings. */
  readonly allowInt64Numbers?: boolean;
}

/** Serialises a response `data` (or a whole envelope containing one) to JSON text. */
export function serializeJson(value: unknown, opts: SerializeOptions = {}): string {
  const parts: string[] = [];
  write(value, opts.allowInt64Numbers === true, parts);
  return parts.join('');
}

function write(v: unknown, int64Numbers: boolean, out: string[]): void {
  if (v instanceof JsonInt64) {
    out.push(int64Numbers ? v.value : `"${v.value}"`);
  } else if (v instanceof RawJson) {
    out.push(v.text);
  } else if (Array.isArray(v)) {
    out.push('[');
    v.forEach((e: unknown, i) => {
      if (i > 0) out.push(',');
      write(e === undefined ? null : e, int64Numbers, out);
    });
    out.push(']');
  } else if (typeof v === 'bigint') {
    out.push(int64Numbers ? v.toString() : `"${v.toString()}"`);
  } else if (v !== null && typeof v === 'object') {
    out.push('{');
    let first = true;
    for (const [k, e] of Object.entries(v)) {
      if (e === undefined) continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(k), ':');
      write(e, int64Numbers, out);
    }
    out.push('}');
  } else {
    out.push(JSON.stringify(v) ?? 'null');
  }
}

/** The shortest decimal that reads back as the same float32 (as a JS number, which prints it so). */
export function float32Shortest(x: number): number {
  const f = Math.fround(x);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const c = Number(f.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return f;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half (round to nearest even) → 16 bits. */
export function toFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  e = half; // carry into the exponent is the correct rounding
  return sign | e;
}

export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
