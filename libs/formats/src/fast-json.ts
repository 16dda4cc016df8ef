import type { CollectionSchema, DirectStorage, FieldSchema, RowBatchBuilder } from '@gw/schema';

/**
 * Schema-directed parsing of row text (decision 0205). Reads a JSON row object, or a CSV cell holding
 * a JSON number array, straight into the batch's typed columns: no JS object per row, no boxed
 * number array. It only ever accepts what the general path (parseJsonExact + RowBatchBuilder.addRow)
 * accepts, storing the same values; on anything else it reports "not handled" and the caller runs
 * the general path, which gives today's result or error message.
 */

const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_PLUS = 43;
const CH_COMMA = 44;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_D0 = 48;
const CH_D9 = 57;
const CH_COLON = 58;
const CH_UPPERE = 69;
const CH_LBRACKET = 91;
const CH_BACKSLASH = 92;
const CH_RBRACKET = 93;
const CH_LOWERE = 101;
const CH_LBRACE = 123;
const CH_RBRACE = 125;

const FLOAT32_MAX = 3.4028234663852886e38;
/** Powers of ten exactly representable as doubles (10^0…10^22). */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT32_RANGES = { Int8: [-128, 127], Int16: [-32768, 32767], Int32: [-2147483648, 2147483647] } as const;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const ascii = new TextDecoder('latin1');

/** Text of ASCII bytes [from, to). */
function asciiText(b: Uint8Array, from: number, to: number): string {
  return ascii.decode(b.subarray(from, to));
}

/**
 * Text of ASCII bytes [from, to): up to 12 characters by concatenation (V8 then makes a flat string
 * without a decoder call, about twice as fast for names and ids), longer ones through the decoder.
 */
export function shortAscii(b: Uint8Array, from: number, to: number): string {
  if (to - from > 12) return asciiText(b, from, to);
  let text = '';
  for (let k = from; k < to; k++) text += String.fromCharCode(b[k]!);
  return text;
}

/** UTF-8 text of bytes [from, to), or null when they are not valid UTF-8. */
function utf8Text(b: Uint8Array, from: number, to: number): string | null {
  try {
    return utf8.decode(b.subarray(from, to));
  } catch {
    return null;
  }
}

/** Result of scanNumber, kept in module state so the hot loop allocates nothing. */
let numEnd = 0;
let numIsInt = false;
/** Digits of an integer literal (sign excluded), to know when a double is not exact. */
let numIntDigits = 0;

/** Powers of ten 10^0…10^308, each the double nearest to it (exact up to 10^22). */
const POW10_ALL = Array.from({ length: 309 }, (_, k) => Number(`1e${k}`));
/**
 * Relative bound on the error of the float32 approximation below (≤ 4 roundings of 2^-53 — chunk
 * join, power of ten, multiply/divide, sign-free — plus the dropped digits beyond the 18th,
 * < 10^-17 ≈ 2^-56), with margin.
 */
const F32_EPS_UP = 1 + 2 ** -47;
const F32_EPS_DOWN = 1 - 2 ** -47;

/**
 * Scans a JSON number at s[i] and returns its value, or NaN when s[i] does not start a valid JSON
 * number; numEnd is then the index after it.
 *
 * The value is the double correctly rounded from the decimal (what `Number(text)` and JSON.parse
 * give) — or, with `f32`, a double that rounds to the same float32 as that one does. Decimals of at
 * most 15 significant digits with a decimal exponent within ±22 are one exact integer times or
 * divided by one exact power of ten: a single correctly rounded operation (Clinger's fast path).
 * Longer decimals (a float32 printed as a double has 17 digits) are approximated to well within
 * 2^-47 when `f32` is set, and kept only when both ends of that error interval round to the same
 * float32 (fround is monotonic, so the exact value's float32 is then known); anything else, and any
 * long decimal for a double target, is handed to Number() on the substring.
 */
export function scanNumber(s: Uint8Array, i: number, f32 = false): number {
  const start = i;
  let neg = false;
  let c = s[i]!;
  if (c === CH_MINUS) {
    neg = true;
    c = s[++i]!;
  }
  // Significant digits go into two int32 chunks of up to 9 (hi, then lo): integer multiply-adds
  // keep the per-digit dependency chain short. Digits beyond the 18th are dropped (f32 only).
  let hi = 0;
  let lo = 0;
  let loDigits = 0;
  let sig = 0;
  let intDigits: number;
  /** Power of ten the kept digits are scaled by. */
  let scale = 0;
  if (c === CH_D0) {
    c = s[++i]!;
    intDigits = 1;
  } else if (c > CH_D0 && c <= CH_D9) {
    do {
      if (sig < 9) hi = (hi * 10 + (c - CH_D0)) | 0;
      else if (sig < 18) {
        lo = (lo * 10 + (c - CH_D0)) | 0;
        loDigits++;
      } else scale++;
      sig++;
      c = s[++i]!;
    } while (c >= CH_D0 && c <= CH_D9);
    intDigits = sig;
  } else return NaN;
  let isInt = true;
  if (c === CH_DOT) {
    isInt = false;
    c = s[++i]!;
    const fracStart = i;
    if (sig === 0) {
      while (c === CH_D0) {
        scale--;
        c = s[++i]!;
      }
    }
    while (c >= CH_D0 && c <= CH_D9) {
      if (sig < 9) {
        hi = (hi * 10 + (c - CH_D0)) | 0;
        scale--;
      } else if (sig < 18) {
        lo = (lo * 10 + (c - CH_D0)) | 0;
        loDigits++;
        scale--;
      }
      sig++;
      c = s[++i]!;
    }
    if (i === fracStart) return NaN;
  }
  let exp = 0;
  let longExp = false;
  if (c === CH_LOWERE || c === CH_UPPERE) {
    isInt = false;
    c = s[++i]!;
    let expNeg = false;
    if (c === CH_PLUS || c === CH_MINUS) {
      expNeg = c === CH_MINUS;
      c = s[++i]!;
    }
    const expStart = i;
    while (c >= CH_D0 && c <= CH_D9) {
      exp = exp * 10 + (c - CH_D0);
      c = s[++i]!;
    }
    if (i === expStart) return NaN;
    // A long exponent is left to Number() (its value is not tracked exactly here).
    longExp = i - expStart > 5;
    if (expNeg) exp = -exp;
  }
  numEnd = i;
  numIsInt = isInt;
  numIntDigits = intDigits;
  if (longExp) return Number(asciiText(s, start, i));
  if (sig === 0) return neg ? -0 : 0;
  // Exact below 10^18 ≤ 2^60 only up to 15 digits; beyond, one rounding (covered by F32 eps).
  const mant = loDigits === 0 ? hi : hi * POW10[loDigits]! + lo;
  const e10 = exp + scale;
  if (sig <= 15) {
    if (e10 === 0) return neg ? -mant : mant;
    if (e10 > 0 && e10 <= 22) return neg ? -(mant * POW10[e10]!) : mant * POW10[e10]!;
    if (e10 < 0 && e10 >= -22) return neg ? -(mant / POW10[-e10]!) : mant / POW10[-e10]!;
  }
  if (f32 && e10 >= -300 && e10 <= 300) {
    const d = e10 >= 0 ? mant * POW10_ALL[e10]! : mant / POW10_ALL[-e10]!;
    if (d < 3.4e38 && Math.fround(d * F32_EPS_DOWN) === Math.fround(d * F32_EPS_UP)) return neg ? -d : d;
  }
  return Number(asciiText(s, start, i));
}

/** 10^k for k = 0…22 as a typed array (exact doubles), for the float32 fast path. */
const POW10_F64 = new Float64Array(POW10);

let viewBuffer: ArrayBufferLike | null = null;
let view: DataView = new DataView(new ArrayBuffer(0));

/** A DataView of the bytes' buffer (kept while rows come from the same chunk). */
function viewOf(s: Uint8Array): DataView {
  if (s.buffer !== viewBuffer) {
    viewBuffer = s.buffer;
    view = new DataView(s.buffer);
  }
  return view;
}

/**
 * The value of four ASCII digits read as a little-endian 32-bit word (first digit in the low byte),
 * or -1 when any of the four bytes is not a digit. A byte is a digit when its high nibble is 3 both
 * before and after adding 6.
 */
function digits4(x: number): number {
  if ((((x & 0xf0f0f0f0) ^ 0x30303030) | (((x + 0x06060606) & 0xf0f0f0f0) ^ 0x30303030)) !== 0) return -1;
  let v = (x - 0x30303030) | 0;
  v = (Math.imul(v, 10) + (v >>> 8)) & 0x00ff00ff;
  return (Math.imul(v, 100) + (v >>> 16)) & 0xffff;
}

/**
 * Stores at out[at] the float32 of the JSON number at s[i] and returns the index after it, when it
 * has the common shape of a vector element — `-?D{1,9}(.D{1,22})?`, no exponent — read four digits
 * per 32-bit load; returns -1, having stored nothing, for any other text (scanNumber then decides,
 * and reports invalid text). Writing the value instead of returning it keeps the double unboxed.
 * The digits are joined into one double with at most fourteen roundings (< 2^-49 relative) and
 * the value kept only when both ends of a 2^-47 interval around it round to the same float32, as
 * in scanNumber; with at most 15 digits every step is exact and it is `Number(text)` itself. Reads
 * nothing at or beyond `n`.
 */
export function scanFloat32Into(s: Uint8Array, i: number, n: number, out: Float32Array, at: number): number {
  return float32At(s, viewOf(s), s.byteOffset, i, n, out, at);
}

/** scanFloat32Into with the DataView of s's buffer and s's offset in it fetched once per vector. */
function float32At(
  s: Uint8Array,
  dv: DataView,
  base: number,
  i: number,
  n: number,
  out: Float32Array,
  at: number,
): number {
  if (i >= n) return -1;
  const c0 = s[i]!;
  // 1 for '-', else 0, without a branch: signs of vector elements are random, a branch on them is
  // mispredicted half the time.
  const neg = 1 - (((c0 - CH_MINUS) | (CH_MINUS - c0)) >>> 31);
  let p = i + neg;
  if (p >= n) return -1;
  let ip = s[p]! - CH_D0;
  if (ip >>> 0 > 9) return -1;
  p++;
  let digits = 1;
  if (ip !== 0) {
    while (p < n) {
      const d = s[p]! - CH_D0;
      if (d >>> 0 > 9) break;
      if (++digits > 9) return -1;
      ip = ip * 10 + d;
      p++;
    }
  } else digits = 0;
  if (p >= n) return -1;
  const c = s[p]!;
  if (c !== CH_DOT) {
    if (c === CH_LOWERE || c === CH_UPPERE) return -1;
    out[at] = ip * (1 - 2 * neg);
    return p;
  }
  p++;
  const fracStart = p;
  // Fraction digits as an integer: up to two groups of eight (read as 32-bit words), then one by one.
  let frac = 0;
  if (p + 8 < n) {
    const a = digits4(dv.getInt32(base + p, true));
    const b = digits4(dv.getInt32(base + p + 4, true));
    if ((a | b) >= 0) {
      frac = a * 10000 + b;
      p += 8;
      if (p + 8 < n) {
        const c = digits4(dv.getInt32(base + p, true));
        const d = digits4(dv.getInt32(base + p + 4, true));
        if ((c | d) >= 0) {
          frac = frac * 1e8 + (c * 10000 + d);
          p += 8;
        }
      }
    }
  }
  // The remaining digits four per load: the count k of leading digits in the word is found without
  // a branch per digit and the bytes after them read as '0's, so each word scales the value by 10^4
  // and `fd` counts that padding too. Fewer than four bytes left: one by one.
  let fd = p - fracStart;
  let ended = false;
  while (p + 4 <= n) {
    const x = dv.getInt32(base + p, true);
    const nonDigit = ((x & 0xf0f0f0f0) ^ 0x30303030) | (((x + 0x06060606) & 0xf0f0f0f0) ^ 0x30303030);
    const k = nonDigit === 0 ? 4 : (31 - Math.clz32(nonDigit & -nonDigit)) >> 3;
    const keep = k === 4 ? -1 : (1 << (k << 3)) - 1;
    frac = frac * 1e4 + digits4((x & keep) | (0x30303030 & ~keep));
    fd += 4;
    p += k;
    if (k < 4) {
      ended = true;
      break;
    }
    if (fd > 20) return -1;
  }
  if (!ended)
    while (p < n) {
      const d = s[p]! - CH_D0;
      if (d >>> 0 > 9) break;
      frac = frac * 10 + d;
      fd++;
      p++;
    }
  if (p === fracStart || fd > 22 || p >= n) return -1;
  const e = s[p]!;
  if (e === CH_LOWERE || e === CH_UPPERE) return -1;
  const scale = POW10_F64[fd]!;
  const mant = ip === 0 ? frac : ip * scale + frac;
  const d = mant / scale;
  // ≤ 15 digits (padding included): every step above was exact, and the one division rounds correctly.
  if (digits + fd > 15 && Math.fround(d * F32_EPS_DOWN) !== Math.fround(d * F32_EPS_UP)) return -1;
  out[at] = d * (1 - 2 * neg);
  return p;
}

/**
 * Parses a JSON array of exactly `dim` numbers at s[i] into out[at…at+dim) as float32, with the
 * checks of the general path (finite, within float32 range). Returns the index after ']' or -1
 * when the text is anything else (the general path then reports it).
 */
export function scanFloatVector(s: Uint8Array, i: number, dim: number, out: Float32Array, at: number): number {
  if (s[i]! !== CH_LBRACKET) return -1;
  i++;
  let c = s[i]!;
  while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
  if (dim === 0) return c === CH_RBRACKET ? i + 1 : -1;
  const n = s.length;
  const dv = viewOf(s);
  const base = s.byteOffset;
  for (let k = 0; ;) {
    const end = float32At(s, dv, base, i, n, out, at + k);
    if (end >= 0) i = end;
    else {
      const v = scanNumber(s, i, true);
      // NaN (no number here), ±Infinity (1e400) and values beyond float32 are errors for the general path.
      if (!(v <= FLOAT32_MAX && v >= -FLOAT32_MAX)) return -1;
      out[at + k] = v;
      i = numEnd;
    }
    k++;
    c = s[i]!;
    while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
    if (c === CH_COMMA) {
      if (k === dim) return -1;
      c = s[++i]!;
      while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
    } else if (c === CH_RBRACKET) return k === dim ? i + 1 : -1;
    else return -1;
  }
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');

function matchWord(s: Uint8Array, at: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (s[at + k] !== word[k]) return false;
  return true;
}

/** True when `b` is 1–15 decimal digits without a leading zero (a safe integer as written by JSON). */
function shortInteger(b: Uint8Array): boolean {
  const n = b.length;
  if (n === 0 || n > 15 || (b[0] === CH_D0 && n > 1)) return false;
  for (let k = 0; k < n; k++) if (b[k]! < CH_D0 || b[k]! > CH_D9) return false;
  return true;
}

/** True when the bytes of `cell` are exactly `text`'s. */
function matchCell(cell: Uint8Array, text: Uint8Array): boolean {
  return cell.length === text.length && matchWord(cell, 0, text);
}

/** True when s[at…] is `key` followed by the closing quote. */
function matchKey(s: Uint8Array, at: number, key: Uint8Array): boolean {
  return matchWord(s, at, key) && s[at + key.length] === CH_QUOTE;
}

function needsEscape(name: string): boolean {
  for (let k = 0; k < name.length; k++) {
    const c = name.charCodeAt(k);
    if (c < 0x20 || c === CH_QUOTE || c === CH_BACKSLASH) return true;
  }
  return false;
}

/** Field types the row parser writes itself; a schema with any other field always takes the general path. */
type FastKind = 'bool' | 'int32' | 'int64' | 'float32' | 'float64' | 'varchar' | 'floatVector';

interface FieldPlan {
  readonly field: FieldSchema;
  /** Index of the field in the schema. */
  readonly index: number;
  /** Index of the plan in input order (for guessing the next key). */
  readonly pos: number;
  /** The field name as UTF-8 bytes. */
  readonly key: Uint8Array;
  readonly kind: FastKind;
  readonly dim: number;
  readonly min: number;
  readonly max: number;
  /** VarChar limit in UTF-8 bytes, or Infinity. */
  readonly maxLength: number;
}

function kindOf(f: FieldSchema): FastKind | null {
  switch (f.dataType) {
    case 'Bool':
      return 'bool';
    case 'Int8':
    case 'Int16':
    case 'Int32':
      return 'int32';
    case 'Int64':
      return 'int64';
    case 'Float':
      return 'float32';
    case 'Double':
      return 'float64';
    case 'VarChar':
      return 'varchar';
    case 'FloatVector':
      return 'floatVector';
    default:
      return null;
  }
}

/**
 * Per-reader state of the schema-directed path: the schema's fields in input order, and the
 * current batch's storage (re-fetched when the builder flushes).
 */
export class FastRowParser {
  private readonly plans: FieldPlan[];
  private readonly byName = new Map<string, FieldPlan>();
  private readonly storage: (DirectStorage | null)[];
  /** Int64 columns viewed as 32-bit halves, so safe integers are stored without a BigInt. */
  private readonly halves: (Int32Array | null)[];
  private readonly present: Uint8Array;
  private epoch = -1;

  private constructor(
    private readonly builder: RowBatchBuilder,
    plans: FieldPlan[],
    fieldCount: number,
  ) {
    this.plans = plans;
    for (const p of plans) this.byName.set(p.field.name, p);
    this.storage = new Array<DirectStorage | null>(fieldCount).fill(null);
    this.halves = new Array<Int32Array | null>(fieldCount).fill(null);
    this.present = new Uint8Array(fieldCount);
  }

  /**
   * The parser for a schema, or null when the schema has a field type the fast path does not
   * write or the dynamic field (whose `$meta` merging the general path owns).
   */
  static forSchema(schema: CollectionSchema, builder: RowBatchBuilder): FastRowParser | null {
    if (schema.enableDynamicField) return null;
    const plans: FieldPlan[] = [];
    for (let index = 0; index < schema.fields.length; index++) {
      const field = schema.fields[index]!;
      if (field.isPrimary && field.autoId) continue;
      const kind = kindOf(field);
      // Names needing escapes in JSON are matched by the general path only.
      if (kind === null || needsEscape(field.name)) return null;
      const range =
        field.dataType === 'Int8' || field.dataType === 'Int16' || field.dataType === 'Int32'
          ? INT32_RANGES[field.dataType]
          : [0, 0];
      plans.push({
        field,
        index,
        pos: plans.length,
        key: Buffer.from(field.name, 'utf8'),
        kind,
        dim: field.dim ?? 0,
        min: range[0],
        max: range[1],
        maxLength: field.maxLength ?? Infinity,
      });
    }
    return new FastRowParser(builder, plans, schema.fields.length);
  }

  private refresh(): void {
    const b = this.builder;
    if (this.epoch === b.epoch) return;
    this.epoch = b.epoch;
    for (const p of this.plans) {
      const st = b.directStorage(p.field.name);
      this.storage[p.index] = st;
      this.halves[p.index] =
        p.kind === 'int64' && LITTLE_ENDIAN && st instanceof BigInt64Array
          ? new Int32Array(st.buffer, st.byteOffset, st.length * 2)
          : null;
    }
  }

  /**
   * Parses the JSON row object that is the whole of the UTF-8 bytes s[from, to) (surrounding
   * whitespace allowed) into the builder's next row. Returns false — having committed nothing — when the row
   * needs the general path: syntax it does not take (escapes in keys or strings, nested values,
   * null, …), unknown, duplicate or missing keys, or a value the general path would refuse.
   */
  tryJsonRow(s: Uint8Array, from = 0, to = s.length): boolean {
    if (this.builder.isFull) return false;
    this.refresh();
    const present = this.present;
    for (let k = 0; k < present.length; k++) present[k] = 0;
    const row = this.builder.rowCount;
    let varBytes = 0;
    // Scanning may run past `to` on a malformed row (into the next row of the chunk); such a row
    // then ends beyond `to` and is refused by the last check.
    const n = to;
    let i = from;
    let c = s[i]!;
    while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
    if (c !== CH_LBRACE) return false;
    c = s[++i]!;
    while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
    if (c === CH_RBRACE) return false;
    // Keys usually come in the same order in every row: try the next field's name first.
    let guess = 0;
    for (;;) {
      if (c !== CH_QUOTE) return false;
      const keyStart = i + 1;
      let plan: FieldPlan | undefined = this.plans[guess];
      if (plan !== undefined && matchKey(s, keyStart, plan.key)) {
        i = keyStart + plan.key.length + 1;
      } else {
        const keyEnd = s.indexOf(CH_QUOTE, keyStart);
        if (keyEnd < 0) return false;
        const key = utf8Text(s, keyStart, keyEnd);
        if (key === null || key.includes('\\')) return false;
        plan = this.byName.get(key);
        if (plan === undefined) return false;
        i = keyEnd + 1;
      }
      if (present[plan.index] === 1) return false;
      present[plan.index] = 1;
      guess = plan.pos + 1;
      c = s[i]!;
      while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
      if (c !== CH_COLON) return false;
      c = s[++i]!;
      while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
      const st = this.storage[plan.index]!;
      switch (plan.kind) {
        case 'floatVector': {
          const end = scanFloatVector(s, i, plan.dim, st as Float32Array, row * plan.dim);
          if (end < 0) return false;
          i = end;
          break;
        }
        case 'int64': {
          const v = scanNumber(s, i);
          if (v !== v || !numIsInt) return false;
          if (numIntDigits <= 15) {
            this.storeInt64(plan.index, st as BigInt64Array, row, v);
          } else {
            const b = BigInt(asciiText(s, i, numEnd));
            if (b < INT64_MIN || b > INT64_MAX) return false;
            (st as BigInt64Array)[row] = b;
          }
          i = numEnd;
          break;
        }
        case 'int32': {
          const v = scanNumber(s, i);
          if (!numIsInt || numIntDigits > 15 || !(v >= plan.min && v <= plan.max)) return false;
          (st as Int32Array)[row] = v;
          i = numEnd;
          break;
        }
        case 'float32':
        case 'float64': {
          const v = scanNumber(s, i, plan.kind === 'float32');
          const lim = plan.kind === 'float32' ? FLOAT32_MAX : Number.MAX_VALUE;
          if (!(v <= lim && v >= -lim)) return false;
          (st as Float32Array | Float64Array)[row] = v;
          i = numEnd;
          break;
        }
        case 'bool':
          if (matchWord(s, i, TRUE)) {
            (st as Uint8Array)[row] = 1;
            i += 4;
          } else if (matchWord(s, i, FALSE)) {
            (st as Uint8Array)[row] = 0;
            i += 5;
          } else return false;
          break;
        case 'varchar': {
          if (c !== CH_QUOTE) return false;
          const start = i + 1;
          let j = start;
          let ascii = true;
          for (;;) {
            const d = s[j]!;
            if (d === CH_QUOTE) break;
            // Escapes, control characters and the end of input are the general path's to judge.
            if (d === CH_BACKSLASH || d < 0x20 || d === undefined) return false;
            if (d >= 0x80) ascii = false;
            j++;
          }
          const text = ascii ? shortAscii(s, start, j) : utf8Text(s, start, j);
          // Invalid UTF-8 is the general path's error; valid UTF-8 decodes to well-formed text.
          if (text === null) return false;
          if (text.length * 3 > plan.maxLength && Buffer.byteLength(text, 'utf8') > plan.maxLength) return false;
          (st as (string | null)[])[row] = text;
          varBytes += text.length;
          i = j + 1;
          break;
        }
      }
      c = s[i]!;
      while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
      if (c === CH_COMMA) {
        c = s[++i]!;
        while (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) c = s[++i]!;
        continue;
      }
      if (c !== CH_RBRACE) return false;
      i++;
      while (i < n && (s[i] === CH_SPACE || s[i] === CH_LF || s[i] === CH_CR || s[i] === CH_TAB)) i++;
      if (i !== n) return false;
      return this.commit(varBytes);
    }
  }

  /** Stores a safe integer in an Int64 column, without a BigInt where the column can be written as halves. */
  private storeInt64(index: number, st: BigInt64Array, row: number, v: number): void {
    const h = this.halves[index] ?? null;
    if (h !== null) {
      const hi = Math.floor(v / TWO32);
      h[2 * row] = v - hi * TWO32;
      h[2 * row + 1] = hi;
    } else st[row] = BigInt(v);
  }

  /** Ends a directly written row; a missing required field is the general path's error to report. */
  private commit(varBytes: number): boolean {
    try {
      this.builder.directCommit(this.present, varBytes);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * tryCsvRecord over cells given as UTF-8 bytes (CsvByteSplitter): vector cells are scanned
   * without being decoded, other cells decoded by `cellText` and converted by `cellValue`.
   */
  tryCsvByteRecord(
    fields: readonly FieldSchema[],
    cells: readonly Uint8Array[],
    nullkey: string,
    nullkeyBytes: Uint8Array,
    cellText: (b: Uint8Array) => string,
    cellValue: (f: FieldSchema, text: string) => unknown,
  ): boolean {
    if (this.builder.isFull) return false;
    this.refresh();
    const present = this.present;
    for (let k = 0; k < present.length; k++) present[k] = 0;
    const row = this.builder.rowCount;
    try {
      for (let k = 0; k < cells.length; k++) {
        const plan = this.byName.get(fields[k]!.name);
        if (plan === undefined) return false;
        const b = cells[k]!;
        if (plan.kind === 'floatVector') {
          // A null cell means default/NULL, which the general path applies.
          if ((plan.field.nullable || plan.field.defaultValue !== undefined) && matchCell(b, nullkeyBytes))
            return false;
          const n = b.length;
          let i = 0;
          while (i < n && (b[i] === CH_SPACE || b[i] === CH_LF || b[i] === CH_CR || b[i] === CH_TAB)) i++;
          i = scanFloatVector(b, i, plan.dim, this.storage[plan.index] as Float32Array, row * plan.dim);
          if (i < 0) return false;
          while (i < n && (b[i] === CH_SPACE || b[i] === CH_LF || b[i] === CH_CR || b[i] === CH_TAB)) i++;
          if (i < n) return false;
        } else if (plan.kind === 'int64' && shortInteger(b)) {
          // Digits only (no sign, no leading zero), at most 15: the value the BigInt of the text has.
          if ((plan.field.nullable || plan.field.defaultValue !== undefined) && matchCell(b, nullkeyBytes))
            return false;
          this.storeInt64(plan.index, this.storage[plan.index] as BigInt64Array, row, scanNumber(b, 0));
        } else {
          const cell = cellText(b);
          if ((plan.field.nullable || plan.field.defaultValue !== undefined) && cell === nullkey) return false;
          // The builder counts the bytes of strings it stores.
          this.builder.directSet(plan.field.name, cellValue(plan.field, cell));
        }
        present[plan.index] = 1;
      }
      this.builder.directCommit(present, 0);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A CSV record whose cells (in header order) are all schema fields: vector cells are scanned
   * into the batch, other cells converted by `cellValue` (the CSV reader's own conversion) and stored
   * through the builder. Returns false, having committed nothing, when the general path must run.
   */
  tryCsvRecord(
    fields: readonly FieldSchema[],
    cells: readonly string[],
    nullkey: string,
    cellValue: (f: FieldSchema, text: string) => unknown,
  ): boolean {
    if (this.builder.isFull) return false;
    this.refresh();
    const present = this.present;
    for (let k = 0; k < present.length; k++) present[k] = 0;
    const row = this.builder.rowCount;
    try {
      for (let k = 0; k < cells.length; k++) {
        const plan = this.byName.get(fields[k]!.name);
        if (plan === undefined) return false;
        const cell = cells[k]!;
        // A null cell means default/NULL, which the general path applies.
        if ((plan.field.nullable || plan.field.defaultValue !== undefined) && cell === nullkey) return false;
        if (plan.kind === 'floatVector') {
          const st = this.storage[plan.index] as Float32Array;
          // UTF-8, not latin1: a character above U+00FF must stay a non-digit byte.
          const b = Buffer.from(cell, 'utf8');
          const n = b.length;
          let i = 0;
          while (i < n && (b[i] === CH_SPACE || b[i] === CH_LF || b[i] === CH_CR || b[i] === CH_TAB)) i++;
          i = scanFloatVector(b, i, plan.dim, st, row * plan.dim);
          if (i < 0) return false;
          while (i < n && (b[i] === CH_SPACE || b[i] === CH_LF || b[i] === CH_CR || b[i] === CH_TAB)) i++;
          if (i < n) return false;
        } else {
          // The builder counts the bytes of strings it stores.
          this.builder.directSet(plan.field.name, cellValue(plan.field, cell));
        }
        present[plan.index] = 1;
      }
      this.builder.directCommit(present, 0);
      return true;
    } catch {
      return false;
    }
  }
}
