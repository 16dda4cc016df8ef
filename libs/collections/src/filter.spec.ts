import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { CollectionsError, CollectionsErrorCode } from './collections.errors';
import { compileFilter, likePattern, parseFilter } from './filter';
import { Params } from './sql';

const f = fieldOf;

const schema: CollectionSchema = {
  enableDynamicField: true,
  fields: [
    f('id', 'Int64', { isPrimary: true }),
    f('i8', 'Int8'),
    f('flag', 'Bool'),
    f('score', 'Float'),
    f('title', 'VarChar', { maxLength: 10 }),
    f('info', 'JSON'),
    f('vec', 'FloatVector', { dim: 2 }),
  ],
};

function compile(filter: string, s: CollectionSchema = schema): { sql: string; params: unknown[] } {
  const p = new Params();
  const ast = parseFilter(filter);
  if (!ast) return { sql: '', params: [] };
  return { sql: compileFilter(ast, s, p), params: p.values };
}

function errorOf(fn: () => unknown): CollectionsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CollectionsError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('filter parsing and compilation', () => {
  it('binds literals as parameters with casts fitting the column', () => {
    expect(compile('id == 9223372036854775807')).toEqual({
      sql: '("id" = $1::text::bigint)',
      params: ['9223372036854775807'],
    });
    expect(compile('title != "a\'b"')).toEqual({ sql: '("title" <> $1::text)', params: ["a'b"] });
    expect(compile('score >= 0.1').sql).toBe('("score" >= $1::text::real)');
  });

  it('accepts Int64 literals given as decimal strings, exactly', () => {
    expect(compile('id in ["9223372036854775807", 1]').params).toEqual(['9223372036854775807', '1']);
    expect(errorOf(() => compile('id == "9223372036854775808"')).code).toBe(CollectionsErrorCode.InvalidParameter);
  });

  it('gives and precedence over or, and not binds tightest', () => {
    expect(compile('i8 == 1 or i8 == 2 and not flag == true').sql).toBe(
      '(("i8" = $1::text::smallint) OR (("i8" = $2::text::smallint) AND (NOT ("flag" = $3::text::boolean))))',
    );
    expect(compile('(i8 == 1 || i8 == 2) && !(flag == true)').sql).toBe(
      '((("i8" = $1::text::smallint) OR ("i8" = $2::text::smallint)) AND (NOT ("flag" = $3::text::boolean)))',
    );
  });

  it('reads keywords case-insensitively', () => {
    expect(compile('i8 IN [1] AnD NoT flag == TRUE').params).toEqual(['1', 'true']);
    expect(compile('i8 NOT IN [1, 2]').sql).toBe('(NOT ("i8" IN ($1::text::smallint, $2::text::smallint)))');
  });

  it('passes JSON paths and dynamic keys as a text[] parameter, typed by the literal', () => {
    const c = compile('info["a"]["b"] > 3 and lang == "en"');
    expect(c.params).toEqual(['{"a","b"}', '3', '{"lang"}', 'en']);
    expect(c.sql).toContain(`jsonb_typeof(("info" #> $1::text::text[])) = 'number'`);
    expect(c.sql).toContain(`jsonb_typeof(("$meta" #> $3::text::text[])) = 'string'`);
  });

  it('escapes _ and backslash in like so only % is a wildcard', () => {
    expect(likePattern('a_b%\\')).toBe('a\\_b%\\\\');
    expect(compile('title like "x_%"').params).toEqual(['x\\_%']);
  });

  it('reports the 0-based position of the offending token', () => {
    const cases: [string, number][] = [
      ['id ==', 5],
      ['id = 1', 3],
      ['(id == 1', 8],
      ['id == 1 and', 11],
      ['id in [1,', 9],
      ['id like 5', 8],
      ['id == "unterminated', 6],
      ['id == 1 id == 2', 8],
      ['@', 0],
    ];
    for (const [filter, pos] of cases) {
      expect(errorOf(() => compile(filter)).message, filter).toBe(
        `invalid parameter: unsupported filter expression at position ${pos}`,
      );
    }
  });

  it('rejects literals that do not fit the field type', () => {
    for (const bad of [
      'i8 == 128',
      'i8 == 1.5',
      'id == "abc"',
      'i8 == "1"',
      'flag == 1',
      'title == 3',
      'score == "x"',
      'flag > true',
      'id == 9223372036854775808',
      'score == 1e39',
    ]) {
      expect(errorOf(() => compile(bad)).code, bad).toBe(CollectionsErrorCode.InvalidParameter);
    }
  });

  it('rejects vectors, whole JSON fields and unknown names without the dynamic field', () => {
    expect(errorOf(() => compile('vec == 1')).code).toBe(CollectionsErrorCode.InvalidParameter);
    expect(errorOf(() => compile('info == 1')).code).toBe(CollectionsErrorCode.InvalidParameter);
    expect(errorOf(() => compile('title["a"] == 1')).code).toBe(CollectionsErrorCode.InvalidParameter);
    const noDyn = { ...schema, enableDynamicField: false };
    expect(errorOf(() => compile('lang == "en"', noDyn)).message).toContain('field lang does not exist');
  });

  it('treats an empty or blank filter as no condition', () => {
    expect(parseFilter('')).toBeNull();
    expect(parseFilter('   ')).toBeNull();
  });

  it('survives deep nesting with a typed error instead of a stack overflow', () => {
    expect(errorOf(() => compile('('.repeat(5000) + 'id == 1' + ')'.repeat(5000))).code).toBe(
      CollectionsErrorCode.InvalidParameter,
    );
    expect(errorOf(() => compile('not '.repeat(5000) + 'id == 1')).code).toBe(CollectionsErrorCode.InvalidParameter);
  });
});

describe('filter fuzzing', () => {
  // Literal contents carry a marker that never appears in generated SQL, so finding it there
  // would mean a value was spliced into the text instead of bound.
  const MARK = 'ZQX';
  const token = fc.oneof(
    fc.constantFrom('id', 'i8', 'flag', 'score', 'title', 'info', 'vec', 'lang', 'AND', 'or', 'not', 'in', 'like'),
    fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '&&', '||', '!', '(', ')', '[', ']', ',', 'true', 'false'),
    fc.string({ maxLength: 6 }).map((s) => JSON.stringify(MARK + s)),
    fc.string({ maxLength: 6 }).map((s) => `'${MARK}${s.replace(/['\\]/g, '')}'`),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => `9876543${n < 0n ? -n : n}`),
    fc.double({ noNaN: true }).map((d) => `${Math.abs(d)}`.replace('Infinity', '1e400')),
    fc.string({ maxLength: 3 }),
  );
  const filterArb = fc.oneof(
    fc.array(token, { maxLength: 14 }).map((ts) => ts.join(' ')),
    fc.string({ maxLength: 40 }),
  );

  it('either compiles to parameterised SQL or throws the typed 1100 error', () => {
    fc.assert(
      fc.property(filterArb, (filter) => {
        let out: { sql: string; params: unknown[] };
        try {
          out = compile(filter);
        } catch (e) {
          expect(e).toBeInstanceOf(CollectionsError);
          expect((e as CollectionsError).code).toBe(CollectionsErrorCode.InvalidParameter);
          return;
        }
        expect(out.sql).not.toContain(MARK);
        expect(out.sql).not.toMatch(/9876543/);
        // Outside quoted identifiers, the only quotes are the fixed jsonb type names and '{}'.
        const stripped = out.sql
          .replace(/"(?:id|i8|flag|score|title|info|\$meta)"/g, '')
          .replace(/'(number|string|boolean|\{\}|\\)'/g, '');
        expect(stripped).not.toMatch(/['"]/);
        for (const p of out.params) expect(typeof p === 'string' || p === null).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('compiles grammar-shaped filters with hostile string literals without splicing them', () => {
    const str = fc.string({ maxLength: 8 }).map((x) => JSON.stringify(MARK + x));
    const pred = fc.oneof(
      fc
        .tuple(fc.constantFrom('title', 'lang', `info["k'"]`), fc.constantFrom('==', '!=', '<', 'like'), str)
        .map(([r, o, l]) => `${r} ${o} ${l}`),
      fc.tuple(fc.constantFrom('id', 'i8'), fc.integer({ min: -128, max: 127 })).map(([r, n]) => `${r} >= ${n}`),
      fc.array(str, { maxLength: 4 }).map((ls) => `title in [${ls.join(', ')}]`),
    );
    const expr = fc
      .array(fc.tuple(pred, fc.constantFrom(' and ', ' or ', ' && ', ' || '), fc.boolean()), {
        minLength: 1,
        maxLength: 5,
      })
      .map((ps) => ps.map(([p, j, neg], i) => (i > 0 ? j : '') + (neg ? `not (${p})` : p)).join(''));
    fc.assert(
      fc.property(expr, (filter) => {
        const out = compile(filter);
        expect(out.sql).not.toContain(MARK);
        expect(out.params.some((p) => typeof p === 'string' && p.includes(MARK)) || !filter.includes(MARK)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
