import { JsonSyntaxError } from './schema.errors';

/**
 * A JSON number literal written with a fraction or exponent whose value is integral or not finite
 * (`1.0`, `2e3`, `1e400`). Kept apart from plain numbers so an integer field can refuse `1.0`
 * (formats.md §3) and so JSON/`$meta` values keep the text as written. Fractional literals such
 * as `0.25` — the hot path of float vectors — stay plain numbers.
 */
export class JsonDecimal {
  constructor(
    readonly text: string,
    readonly value: number,
  ) {}
}

/**
 * A value of the exact JSON model: integers beyond ±2^53 are bigint, objects have a null
 * prototype and never hold duplicate keys.
 */
export type JsonValue = null | boolean | number | bigint | string | JsonDecimal | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface ParseJsonOptions {
  /** Deepest nesting of arrays/objects accepted; deeper input is refused rather than overflowing the stack. */
  readonly maxDepth?: number;
  /**
   * Request-body leniency (import-api.md §2): a trailing comma before `}` or `]` is skipped and a
   * duplicate key keeps its last value. Import files stay strict.
   */
  readonly lenient?: boolean;
}

export const DEFAULT_MAX_JSON_DEPTH = 128;

// Character codes as plain constants: V8 folds them, and they keep the hot loops free of enum lookups.
const CH_TAB = 9;
const CH_LF = 10;
const CH_CR = 13;
const CH_SPACE = 32;
const CH_QUOTE = 34;
const CH_PLUS = 43;
const CH_COMMA = 44;
const CH_MINUS = 45;
const CH_DOT = 46;
const CH_SLASH = 47;
const CH_D0 = 48;
const CH_D1 = 49;
const CH_D9 = 57;
const CH_COLON = 58;
const CH_UPPERE = 69;
const CH_LBRACKET = 91;
const CH_BACKSLASH = 92;
const CH_RBRACKET = 93;
const CH_LOWERE = 101;
const CH_LBRACE = 123;
const CH_RBRACE = 125;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function describeChar(s: string, i: number): string {
  if (i >= s.length) return 'unexpected end of input';
  const c = s.charCodeAt(i);
  if (c < 0x20) return `unexpected control character 0x${c.toString(16).padStart(2, '0')}`;
  return `unexpected character '${s[i]}'`;
}

/**
 * Exact JSON parser (RFC 8259). Unlike JSON.parse it keeps integers beyond 2^53 exact (bigint),
 * refuses duplicate object keys and bounds nesting depth; NaN/Infinity are syntax errors as in
 * JSON.parse. Throws JsonSyntaxError with the UTF-16 offset of the problem.
 */
export function parseJsonExact(text: string, opts: ParseJsonOptions = {}): JsonValue {
  const p = new Parser(text, opts.maxDepth ?? DEFAULT_MAX_JSON_DEPTH, opts.lenient ?? false);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i < text.length) throw new JsonSyntaxError(p.i, `${describeChar(text, p.i)} after the value`);
  return v;
}

class Parser {
  i = 0;
  constructor(
    readonly s: string,
    readonly maxDepth: number,
    readonly lenient = false,
  ) {}

  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === CH_SPACE || c === CH_LF || c === CH_CR || c === CH_TAB) i++;
      else break;
    }
    this.i = i;
  }

  fail(problem?: string): never {
    throw new JsonSyntaxError(this.i, problem ?? describeChar(this.s, this.i));
  }

  value(depth: number): JsonValue {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    switch (c) {
      case CH_QUOTE:
        return this.string();
      case CH_LBRACKET:
        return this.array(depth + 1);
      case CH_LBRACE:
        return this.object(depth + 1);
      case 116: // t
        return this.literal('true', true);
      case 102: // f
        return this.literal('false', false);
      case 110: // n
        return this.literal('null', null);
      default:
        if (c === CH_MINUS || (c >= CH_D0 && c <= CH_D9)) return this.number();
        return this.fail();
    }
  }

  literal<T>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.fail();
  }

  number(): number | bigint | JsonDecimal {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === CH_MINUS) i++;
    let c = s.charCodeAt(i);
    if (c === CH_D0) i++;
    else if (c >= CH_D1 && c <= CH_D9) {
      i++;
      while ((c = s.charCodeAt(i)) >= CH_D0 && c <= CH_D9) i++;
    } else {
      this.i = i;
      return this.fail(i >= s.length ? 'unexpected end of input' : 'invalid number');
    }
    const intEnd = i;
    let isInt = true;
    if (s.charCodeAt(i) === CH_DOT) {
      isInt = false;
      i++;
      const fracStart = i;
      while ((c = s.charCodeAt(i)) >= CH_D0 && c <= CH_D9) i++;
      if (i === fracStart) {
        this.i = i;
        return this.fail('invalid number');
      }
    }
    c = s.charCodeAt(i);
    if (c === CH_LOWERE || c === CH_UPPERE) {
      isInt = false;
      i++;
      c = s.charCodeAt(i);
      if (c === CH_PLUS || c === CH_MINUS) i++;
      const expStart = i;
      while ((c = s.charCodeAt(i)) >= CH_D0 && c <= CH_D9) i++;
      if (i === expStart) {
        this.i = i;
        return this.fail('invalid number');
      }
    }
    this.i = i;
    const text = s.slice(start, i);
    if (isInt) {
      // 15 digits always fit a double exactly; longer ones go through BigInt to decide.
      if (intEnd - start <= 15) return Number(text);
      const b = BigInt(text);
      return b > MAX_SAFE || b < -MAX_SAFE ? b : Number(b);
    }
    const v = Number(text);
    return Number.isInteger(v) || !Number.isFinite(v) ? new JsonDecimal(text, v) : v;
  }

  string(): string {
    const s = this.s;
    let i = this.i + 1;
    const start = i;
    // Fast path: no escapes.
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === CH_QUOTE) {
        this.i = i + 1;
        return s.slice(start, i);
      }
      if (c === CH_BACKSLASH) break;
      if (c < 0x20 || Number.isNaN(c)) {
        this.i = i;
        return this.fail(i >= s.length ? 'unterminated string' : undefined);
      }
      i++;
    }
    let out = s.slice(start, i);
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === CH_QUOTE) {
        this.i = i + 1;
        return out;
      }
      if (c === CH_BACKSLASH) {
        const e = s.charCodeAt(i + 1);
        switch (e) {
          case CH_QUOTE:
            out += '"';
            break;
          case CH_BACKSLASH:
            out += '\\';
            break;
          case CH_SLASH:
            out += '/';
            break;
          case 98:
            out += '\b';
            break;
          case 102:
            out += '\f';
            break;
          case 110:
            out += '\n';
            break;
          case 114:
            out += '\r';
            break;
          case 116:
            out += '\t';
            break;
          case 117: {
            const hex = s.slice(i + 2, i + 6);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
              this.i = i;
              return this.fail(i + 6 > s.length ? 'unterminated string' : 'invalid \\u escape');
            }
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            this.i = i;
            return this.fail(i + 1 >= s.length ? 'unterminated string' : 'invalid escape');
        }
        i += 2;
        continue;
      }
      if (c < 0x20 || Number.isNaN(c)) {
        this.i = i;
        return this.fail(i >= s.length ? 'unterminated string' : undefined);
      }
      const runStart = i;
      i++;
      for (;;) {
        const d = s.charCodeAt(i);
        if (d === CH_QUOTE || d === CH_BACKSLASH || d < 0x20 || Number.isNaN(d)) break;
        i++;
      }
      out += s.slice(runStart, i);
    }
  }

  /**
   * Fast path for arrays of plain numbers (vectors, the bulk of import data): V8's JSON.parse
   * converts the text up to the first ']'. Taken only when the result is exactly what the slow
   * path gives: every element a finite number, and — if any is integral — no integer literal beyond
   * 15 digits (bigint) and no integral literal written with a fraction or exponent (JsonDecimal).
   * Otherwise returns null and the slow path parses (and reports errors precisely).
   */
  numberArray(): JsonValue[] | null {
    const s = this.s;
    const end = s.indexOf(']', this.i);
    if (end < 0) return null;
    let arr: unknown;
    try {
      arr = JSON.parse(s.slice(this.i, end + 1));
    } catch {
      return null;
    }
    if (!Array.isArray(arr)) return null;
    let integral = 0;
    for (const v of arr as unknown[]) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return null;
      if (Number.isInteger(v)) integral++;
    }
    if (integral > 0 && !this.plainIntegers(end, integral)) return null;
    this.i = end + 1;
    return arr as number[];
  }

  /** True when the literals in [i, end) include exactly `integral` short plain integers and no long ones. */
  private plainIntegers(end: number, integral: number): boolean {
    const s = this.s;
    let ints = 0;
    let digits = 0;
    let fracOrExp = false;
    let inToken = false;
    for (let i = this.i + 1; i <= end; i++) {
      const c = s.charCodeAt(i);
      if (c >= CH_D0 && c <= CH_D9) {
        digits++;
        inToken = true;
      } else if (c === CH_DOT || c === CH_LOWERE || c === CH_UPPERE) {
        fracOrExp = true;
        inToken = true;
      } else if (c === CH_MINUS || c === CH_PLUS) {
        inToken = true;
      } else if (inToken) {
        if (!fracOrExp) {
          if (digits > 15) return false;
          ints++;
        }
        inToken = false;
        digits = 0;
        fracOrExp = false;
      }
    }
    return ints === integral;
  }

  array(depth: number): JsonValue[] {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
    const first = this.s.charCodeAt(this.i + 1);
    if (first === CH_MINUS || (first >= CH_D0 && first <= CH_D9)) {
      const fast = this.numberArray();
      if (fast !== null) return fast;
    }
    const out: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === CH_RBRACKET) {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === CH_COMMA) {
        this.i++;
        this.ws();
        if (this.lenient && this.s.charCodeAt(this.i) === CH_RBRACKET) {
          this.i++;
          return out;
        }
      } else if (c === CH_RBRACKET) {
        this.i++;
        return out;
      } else return this.fail();
    }
  }

  object(depth: number): JsonObject {
    if (depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth} levels`);
    const out = Object.create(null) as JsonObject;
    this.i++;
    this.ws();
    if (this.s.charCodeAt(this.i) === CH_RBRACE) {
      this.i++;
      return out;
    }
    for (;;) {
      if (this.s.charCodeAt(this.i) !== CH_QUOTE) this.fail();
      const keyAt = this.i;
      const key = this.string();
      if (!this.lenient && Object.hasOwn(out, key)) {
        this.i = keyAt;
        this.fail(`duplicate key '${key}'`);
      }
      this.ws();
      if (this.s.charCodeAt(this.i) !== CH_COLON) this.fail();
      this.i++;
      this.ws();
      out[key] = this.value(depth);
      this.ws();
      const c = this.s.charCodeAt(this.i);
      if (c === CH_COMMA) {
        this.i++;
        this.ws();
        if (this.lenient && this.s.charCodeAt(this.i) === CH_RBRACE) {
          this.i++;
          return out;
        }
      } else if (c === CH_RBRACE) {
        this.i++;
        return out;
      } else return this.fail();
    }
  }
}

/**
 * Serialises a value of the exact JSON model (and what JSON.parse produces, plus typed arrays,
 * Dates and bigint from Parquet) to compact JSON text. bigint and JsonDecimal keep their digits.
 * Throws NotJsonError for a non-finite number or a non-JSON value so callers can report it.
 */
export function toJsonText(v: unknown): string {
  const parts: string[] = [];
  write(v, parts);
  return parts.join('');
}

export class NotJsonError extends Error {}

function write(v: unknown, out: string[]): void {
  switch (typeof v) {
    case 'string':
      out.push(JSON.stringify(v));
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new NotJsonError(`${v} is not a valid JSON number`);
      out.push(String(v));
      return;
    case 'bigint':
      out.push(v.toString());
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'object': {
      if (v === null) {
        out.push('null');
        return;
      }
      if (v instanceof JsonDecimal) {
        out.push(v.text);
        return;
      }
      if (v instanceof Date) {
        out.push(JSON.stringify(v.toISOString()));
        return;
      }
      if (Array.isArray(v) || ArrayBuffer.isView(v)) {
        const arr = v as ArrayLike<unknown>;
        out.push('[');
        for (let i = 0; i < arr.length; i++) {
          if (i > 0) out.push(',');
          write(arr[i], out);
        }
        out.push(']');
        return;
      }
      out.push('{');
      let first = true;
      for (const k of Object.keys(v)) {
        const x = (v as Record<string, unknown>)[k];
        if (x === undefined) continue;
        if (!first) out.push(',');
        first = false;
        out.push(JSON.stringify(k), ':');
        write(x, out);
      }
      out.push('}');
      return;
    }
    default:
      throw new NotJsonError(`a ${typeof v} is not a JSON value`);
  }
}

/**
 * Stable JSON text: object keys sorted, undefined members dropped, bigint as its digits. For
 * comparing values by content (stored schemas, idempotent request hashes), not for output.
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return typeof v === 'bigint' ? v.toString() : JSON.stringify(v);
}
