/** IEEE 754 half and bfloat16 conversions, round to nearest even (formats.md §3). */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → IEEE half bits; returns -1 when the finite value overflows half range. */
export function toFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return -1;
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
  // Rounding up may carry into the exponent and reach infinity.
  if ((half & 0x7c00) === 0x7c00) return -1;
  return sign | half;
}

/** IEEE half bits → number (exact). */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float → bfloat16 bits; returns -1 when the finite value overflows bfloat16 range. */
export function toBFloat16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if (((x >>> 23) & 0xff) === 0xff) return -1;
  const r = ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
  if ((r & 0x7f80) === 0x7f80) return -1;
  return r;
}
