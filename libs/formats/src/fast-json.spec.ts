import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fieldOf,
  parseJsonExact,
  RowBatchBuilder,
  type CollectionSchema,
  type Column,
  type RowBatch,
} from '@gw/schema';
import { FastRowParser, scanFloat32Into, scanFloatVector, scanNumber, shortAscii } from './fast-json';
import { columnValues, readAll, textInput } from './spec-helpers';

/** scanNumber over `text` followed by a delimiter, as in a row. */
function scan(text: string, f32: boolean): number {
  return scanNumber(Buffer.from(`${text},`), 0, f32);
}

const sign = fc.constantFrom('', '-');
const digits = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...Array.from('0123456789')), minLength: min, maxLength: max });
/** Any JSON number literal: integer part, optional fraction, optional exponent. */
const literal = fc
  .tuple(
    sign,
    fc.oneof(
      fc.constant('0'),
      fc.tuple(fc.constantFrom(...Array.from('123456789')), digits(0, 25)).map(([a, b]) => a + b),
    ),
    fc.option(digits(1, 30), { nil: undefined }),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 3)), { nil: undefined }),
  )
  .map(
    ([s, int, frac, exp]) =>
      `${s}${int}${frac === undefined ? '' : `.${frac}`}${exp === undefined ? '' : exp.join('')}`,
  );
/** Doubles and floats printed the ways writers print them. */
const printed = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.float({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc
    .tuple(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 20 }))
    .map(([x, p]) => x.toExponential(p)),
  fc
    .tuple(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 21 }))
    .map(([x, p]) => x.toPrecision(p)),
  fc.double({ min: -1, max: 1, noNaN: true }).map(String),
);

const EDGES = [
  '0',
  '-0',
  '-0.0e0',
  '0e400',
  '1e5',
  '1E-7',
  '1.5e+30',
  '123456789012345678901234567890',
  '-9007199254740993',
  '0.1',
  '0.30000000000000004',
  '1.401298464324817e-45', // smallest float32 subnormal
  '7.006492321624085e-46', // half of it: ties to even (0)
  '7.006492321624086e-46',
  '1.1754942106924411e-38', // largest float32 subnormal
  '1.1754943508222875e-38', // smallest float32 normal
  '3.4028234663852886e38', // float32 max
  '3.4028235e38', // rounds to float32 max, but above it as a double: refused today
  '3.4028235677973366e38', // midpoint to Infinity
  '-3.4028235677973362e38',
  '1e39',
  '1e400',
  '-1e-400',
  '2.2250738585072014e-308',
  '4.9e-324',
  '1.7976931348623157e308',
  '0.000000000000000000000000000000000000000000001',
  '1' + '0'.repeat(40) + 'e-40',
  '0.' + '0'.repeat(50) + '1e50',
  '1.00000005960464477539062500000001', // just above a float32 midpoint
  '1.000000059604644775390625', // a float32 midpoint exactly: ties to even
  '1.00000005960464477539062499999999',
  '9999999999999999999999e-22',
];

describe('scanNumber', () => {
  it('gives the float32 that Math.fround(JSON.parse(x)) gives, for edge values', () => {
    for (const x of EDGES) expect([x, Math.fround(scan(x, true))]).toEqual([x, Math.fround(JSON.parse(x) as number)]);
  });

  it('gives the float32 that Math.fround(JSON.parse(x)) gives, for random literals and printed floats', () => {
    fc.assert(
      fc.property(fc.oneof(literal, printed), (x) => {
        expect(Object.is(Math.fround(scan(x, true)), Math.fround(JSON.parse(x) as number))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('gives exactly the double JSON.parse gives when not reading for a float32', () => {
    for (const x of EDGES) expect(Object.is(scan(x, false), JSON.parse(x))).toBe(true);
    fc.assert(
      fc.property(fc.oneof(literal, printed), (x) => {
        expect(Object.is(scan(x, false), JSON.parse(x))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
  });

  it('refuses what is not a JSON number', () => {
    for (const x of ['', '-', '+1', '.5', '1.', '1e', '1e+', 'NaN', 'Infinity', '-Infinity', '"1"'])
      expect(scan(x, true)).toBeNaN();
  });
});

/** scanFloat32Into over `text` followed by `after`: [end index or -1, stored float32 or undefined]. */
function scanF32(text: string, after = ','): [number, number | undefined] {
  const b = Buffer.from(text + after);
  const out = new Float32Array([42]);
  const end = scanFloat32Into(b, 0, text.length + (after === '' ? 0 : 1), out, 0);
  return [end, end < 0 ? (out[0] === 42 ? undefined : out[0]) : out[0]];
}

describe('scanFloat32Into (the eight-digits-at-a-time float32 path)', () => {
  it('stores Math.fround(JSON.parse(x)) and ends after the number, or declines having stored nothing', () => {
    const check = (x: string): void => {
      const [end, v] = scanF32(x);
      if (end < 0) expect(v).toBeUndefined();
      else expect([x, end, Object.is(v, Math.fround(JSON.parse(x) as number))]).toEqual([x, x.length, true]);
    };
    for (const x of EDGES) check(x);
    fc.assert(fc.property(fc.oneof(literal, printed), check), { numRuns: 20_000 });
  });

  it('takes the shapes vectors are written in: 17-digit floats, short decimals, integers, -0', () => {
    const shapes = fc.oneof(
      fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 }).map((f) => String(f)),
      fc.float({ noNaN: true, min: -1, max: 1 }).map((f) => f.toFixed(6)),
      fc.integer({ min: -999_999_999, max: 999_999_999 }).map(String),
    );
    fc.assert(
      fc.property(shapes, (x) => {
        if (/e/i.test(x)) return;
        const [end, v] = scanF32(x);
        // Declining is allowed only where the interval check cannot decide (about 1 in 2^20 values).
        if (end >= 0) expect(Object.is(v, Math.fround(JSON.parse(x) as number))).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    for (const x of [
      '-0.0',
      '0',
      '-0',
      '123456789',
      '-0.2639320194721222',
      '0.0026418156921863556',
      '1.5',
      '-0.00008735456503927708', // 20 fraction digits: a last word holding four
      '0.141871839761734', // 15: one group of eight, then words of four and three
      '12345.6789',
    ])
      expect([x, ...scanF32(x)]).toEqual([x, x.length, Math.fround(JSON.parse(x) as number)]);
  });

  it('declines exponents, long integer parts, long fractions and numbers running into the end', () => {
    for (const x of ['1e5', '1.5E-3', '1234567890', '0.' + '1'.repeat(23), '.5', '-', '1.'])
      expect([x, scanF32(x)[0]]).toEqual([x, -1]);
    // No byte after the number within `n`: the number might go on, so it is not taken.
    expect(scanF32('0.25', '')[0]).toBe(-1);
    expect(scanF32('0.2639320194721222', '')[0]).toBe(-1);
  });

  it('makes scanFloatVector give the float32s of JSON.parse for whole vectors, or refuse out-of-range ones', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(literal, printed), { minLength: 1, maxLength: 40 }), (xs) => {
        const b = Buffer.from(`[${xs.join(',')}]`);
        const out = new Float32Array(xs.length);
        const want = xs.map((x) => JSON.parse(x) as number);
        const end = scanFloatVector(b, 0, xs.length, out, 0);
        if (want.every((v) => Math.abs(v) <= 3.4028234663852886e38)) {
          expect(end).toBe(b.length);
          expect([...out].every((v, k) => Object.is(v, Math.fround(want[k]!)))).toBe(true);
        } else expect(end).toBe(-1);
      }),
      { numRuns: 3_000 },
    );
  });
});

describe('shortAscii', () => {
  it('gives the latin1 text of the bytes, short or long, at any offset', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0, max: 127 }).map((c) => String.fromCharCode(c)), maxLength: 30 }),
        fc.nat(5),
        (t, pad) => {
          const b = Buffer.from('x'.repeat(pad) + t + 'y', 'latin1');
          expect(shortAscii(b, pad, pad + t.length)).toBe(t);
        },
      ),
    );
  });
});

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('i8', 'Int8'),
    fieldOf('i32', 'Int32'),
    fieldOf('ok', 'Bool'),
    fieldOf('f', 'Float'),
    fieldOf('d', 'Double'),
    fieldOf('name', 'VarChar', { maxLength: 12 }),
    fieldOf('opt', 'Int32', { nullable: true }),
    fieldOf('def', 'Double', { defaultValue: 2.5 }),
    fieldOf('vec', 'FloatVector', { dim: 3 }),
  ],
};

/** Values of every kind, right and wrong for each field, as JSON text. */
const anyNumberText = fc.oneof(literal, printed, fc.constantFrom(...EDGES));
/** Mostly numbers a float32 field takes. */
const floatText = fc.oneof(
  { weight: 6, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }).map(String) },
  { weight: 3, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map(String) },
  { weight: 2, arbitrary: anyNumberText },
);
const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: anyNumberText },
  {
    weight: 1,
    arbitrary: fc.constantFrom('true', 'false', 'null', '{}', '[]', '"7"', '" 12 "', '"9223372036854775808"'),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 14 }).map((s) => JSON.stringify(s)) },
  { weight: 1, arbitrary: fc.constantFrom('"a\\u00e9"', '"tab\\t"', '"😀😀😀😀"', '"ééééééé"') },
  {
    weight: 4,
    arbitrary: fc
      .array(fc.oneof({ weight: 8, arbitrary: anyNumberText }, fc.constantFrom('null', '"1"', '[1]')), {
        minLength: 2,
        maxLength: 4,
      })
      .map((a) => `[${a.join(',')}]`),
  },
);
const rightValue: Record<string, fc.Arbitrary<string>> = {
  id: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.integer().map(String)),
  i8: fc.integer({ min: -128, max: 127 }).map(String),
  i32: fc.integer().map(String),
  ok: fc.constantFrom('true', 'false'),
  f: floatText,
  d: anyNumberText,
  name: fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  opt: fc.integer().map(String),
  def: anyNumberText,
  vec: fc.array(floatText, { minLength: 3, maxLength: 3 }).map((a) => `[ ${a.join(' , ')} ]`),
};
const ws = fc.constantFrom('', ' ', '\t', '\r\n ');
/** A row: fields mostly right, some wrong, absent, repeated or unknown, in any order. */
const rowText = fc
  .tuple(
    fc
      .tuple(fc.shuffledSubarray(['opt', 'def']), fc.boolean())
      .chain(([optional, missing]) =>
        fc.shuffledSubarray(
          [
            ...Object.keys(rightValue).filter((k) => k !== 'opt' && k !== 'def' && !(missing && k === 'i8')),
            ...optional,
          ],
          { minLength: 8 - (missing ? 1 : 0) + optional.length },
        ),
      ),
    fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, fc.array(fc.tuple(fc.nat(99), valueText), { maxLength: 2 })),
    fc.oneof(
      { weight: 5, arbitrary: fc.constant([]) },
      fc.array(fc.constantFrom('id', 'name', 'vec', 'extra', 'na\\u006de'), { maxLength: 1 }),
    ),
    ws,
  )
  .chain(([keys, wrong, extraKeys, space]) =>
    fc.tuple(...keys.map((k) => rightValue[k]!), ...extraKeys.map(() => valueText)).map((vals) => {
      const all = [...keys, ...extraKeys];
      const parts = all.map((k, j) => `"${k}"${space}:${space}${vals[j]!}`);
      for (const [at, v] of wrong) {
        const j = at % parts.length;
        parts[j] = `"${all[j]!}":${v}`;
      }
      return `${space}{${space}${parts.join(`${space},`)}${space}}${space}`;
    }),
  );

/** What the general path makes of one row: the batch of that row alone, or its error message. */
function general(text: string): RowBatch | string {
  const b = new RowBatchBuilder(schema, 1);
  try {
    const v = parseJsonExact(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not an object';
    b.addRow(v as Record<string, unknown>);
  } catch (e) {
    return (e as Error).message;
  }
  return b.flush('f', 1);
}

function plain(batch: RowBatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, c] of batch.columns as Map<string, Column>) {
    const values: unknown = 'values' in c ? c.values : null;
    out[name] = { values: ArrayBuffer.isView(values) ? Array.from(values as unknown as ArrayLike<unknown>) : values };
    if ('valid' in c) (out[name] as Record<string, unknown>).valid = c.valid === null ? null : Array.from(c.valid);
  }
  return out;
}

describe('FastRowParser.tryJsonRow', () => {
  it('accepts only rows the general path accepts, storing exactly what it stores', () => {
    let taken = 0;
    fc.assert(
      fc.property(rowText, (text) => {
        const b = new RowBatchBuilder(schema, 1);
        const fast = FastRowParser.forSchema(schema, b)!;
        const ref = general(text);
        if (!fast.tryJsonRow(Buffer.from(text, 'utf8'))) {
          expect(b.rowCount).toBe(0);
          return;
        }
        taken++;
        expect(typeof ref === 'string' ? ref : plain(ref)).toEqual(plain(b.flush('f', 1)));
      }),
      { numRuns: 5_000 },
    );
    // The generator must exercise the fast path, not only its refusals.
    expect(taken).toBeGreaterThan(500);
  });

  it('is not used for a schema with the dynamic field or a type it does not write', () => {
    const b = (s: CollectionSchema): RowBatchBuilder => new RowBatchBuilder(s, 1);
    const dyn = { ...schema, enableDynamicField: true };
    expect(FastRowParser.forSchema(dyn, b(dyn))).toBeNull();
    const json = {
      enableDynamicField: false,
      fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('j', 'JSON')],
    };
    expect(FastRowParser.forSchema(json, b(json))).toBeNull();
  });
});

describe('readers with the schema-directed path', () => {
  const small: CollectionSchema = {
    enableDynamicField: false,
    fields: [
      fieldOf('id', 'Int64', { isPrimary: true }),
      fieldOf('name', 'VarChar', { maxLength: 8 }),
      fieldOf('vec', 'FloatVector', { dim: 2 }),
    ],
  };

  it('mixes fast and general rows in one batch, in order, with the same values', async () => {
    const lines = [
      '{"id": 1, "name": "a", "vec": [0.1, 2e-3]}',
      '{"name": "b\\u00e9", "id": "2", "vec": [1, 2]}', // escape and string Int64: general path
      '{"id": 9223372036854775807, "name": "c", "vec": [0.30000000000000004, -0]}',
    ];
    for (const [format, text] of [
      ['jsonl', lines.join('\n')],
      ['json', `{"rows":[${lines.join(',')}]}`],
      ['csv', 'id,name,vec\n1,a,"[0.1, 2e-3]"\n2,bé,"[1,2]"\n9223372036854775807,c,"[0.30000000000000004,-0]"\n'],
    ] as const) {
      const batches = await readAll(format, [textInput(`f.${format}`, text)], small);
      expect(columnValues(batches, 'id')).toEqual([1n, 2n, 9223372036854775807n]);
      expect(columnValues(batches, 'name')).toEqual(['a', 'bé', 'c']);
      expect(columnValues(batches, 'vec')).toEqual([
        [Math.fround(0.1), Math.fround(2e-3)],
        [1, 2],
        [Math.fround(0.30000000000000004), -0],
      ]);
    }
  });

  it('reports a bad row exactly as the general path does, with its row number', async () => {
    const jsonl = '{"id":1,"name":"a","vec":[1,2]}\n\n{"id":2,"name":"b","vec":[1,3.4028235e38]}\n';
    await expect(readAll('jsonl', [textInput('f.jsonl', jsonl)], small)).rejects.toThrow(
      "f.jsonl: row 3 (byte 33), field 'vec': element 1 (3.4028235e38) is not a finite float32",
    );
    const csv = 'id,name,vec\n1,a,"[1,2]"\n2,b,"[1,2,3]"\n';
    await expect(readAll('csv', [textInput('f.csv', csv)], small)).rejects.toThrow(
      "f.csv: row 2 (line 3), field 'vec': expected 2 values, got 3",
    );
  });
});
