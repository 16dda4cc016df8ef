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

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
