import { describe, expect, it } from 'vitest';
import { JsonDecimal, parseJsonExact, toJsonText } from './json';
import { JsonSyntaxError } from './schema.errors';

function syntax(text: string): JsonSyntaxError {
  try {
    parseJsonExact(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) return e;
    throw e;
  }
  throw new Error('expected a syntax error');
}

describe('parseJsonExact', () => {
  it('keeps integers beyond 2^53 exact as bigint and small ones as numbers', () => {
    expect(parseJsonExact('[9007199254740993, -9223372036854775808, 42, 123456789012345]')).toEqual([
      9007199254740993n,
      -9223372036854775808n,
      42,
      123456789012345,
    ]);
  });

  it('marks integral literals written with a fraction or exponent so integer fields can refuse them', () => {
    const v = parseJsonExact('[1.0, 2e3, 0.25, 1e400]') as unknown[];
    expect(v[0]).toEqual(new JsonDecimal('1.0', 1));
    expect(v[1]).toEqual(new JsonDecimal('2e3', 2000));
    expect(v[2]).toBe(0.25);
    expect((v[3] as JsonDecimal).value).toBe(Infinity);
  });

  it('parses strings with escapes and surrogate pairs like JSON.parse', () => {
    const text = String.raw`{"a":"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00","b":"plain é"}`;
    expect(parseJsonExact(text)).toEqual(JSON.parse(text));
  });

  it('refuses duplicate keys with the offset of the second key', () => {
    const e = syntax('{"a":1, "a":2}');
    expect(e.problem).toBe("duplicate key 'a'");
    expect(e.offset).toBe(8);
  });

  it('refuses NaN, Infinity, trailing commas and trailing garbage', () => {
    expect(syntax('[NaN]').problem).toBe("unexpected character 'N'");
    expect(syntax('[-Infinity]').problem).toBe('invalid number');
    expect(syntax('[1,]').problem).toBe("unexpected character ']'");
    expect(syntax('{} x').problem).toBe("unexpected character 'x' after the value");
  });

  it('reports an unterminated string', () => {
    expect(syntax('{"a":"abc').problem).toBe('unterminated string');
  });

  it('bounds the nesting depth instead of overflowing the stack', () => {
    expect(syntax('['.repeat(200) + ']'.repeat(200)).problem).toBe('nesting deeper than 128 levels');
    expect(() => parseJsonExact('['.repeat(100) + ']'.repeat(100))).not.toThrow();
  });

  it('parses number arrays on the fast path with the same exactness as the slow path', () => {
    expect(parseJsonExact('[0.5, -0.25, 3]')).toEqual([0.5, -0.25, 3]);
    expect(parseJsonExact('[1.0, 2]')).toEqual([new JsonDecimal('1.0', 1), 2]);
    expect(parseJsonExact('[12345678901234567, 0.5]')).toEqual([12345678901234567n, 0.5]);
    expect(parseJsonExact('[-9007199254740992, 0.5]')).toEqual([-9007199254740992n, 0.5]);
    expect((parseJsonExact('[1e400]') as JsonDecimal[])[0]!.value).toBe(Infinity);
    expect(parseJsonExact('[1, [2, 3], "a]"]')).toEqual([1, [2, 3], 'a]']);
    expect(syntax('[1, 2').problem).toBe('unexpected end of input');
    expect(syntax('[01]').problem).toBe("unexpected character '1'");
  });

  it('gives objects a null prototype so __proto__ is an ordinary key', () => {
    const o = parseJsonExact('{"__proto__": 1}') as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(['__proto__']);
  });
});

describe('toJsonText', () => {
  it('writes bigint and decimal literals with their exact digits', () => {
    expect(toJsonText({ a: 9007199254740993n, b: new JsonDecimal('1.0', 1), c: [true, null, 's'] })).toBe(
      '{"a":9007199254740993,"b":1.0,"c":[true,null,"s"]}',
    );
  });

  it('round-trips what parseJsonExact reads', () => {
    const text = '{"x":[1,2.5,-3e-7],"y":{"z":"é\\n"},"big":18446744073709551615}';
    expect(toJsonText(parseJsonExact(text))).toBe(text.replace('é\\n', 'é\\n'));
  });
});

describe('parseJsonExact in lenient mode (request bodies)', () => {
  it('skips a trailing comma before } or ] and keeps the last of duplicate keys', () => {
    const v = parseJsonExact('{"a":1,"a":2,"b":[1,2,],"c":{"d":3,},}', { lenient: true }) as Record<string, unknown>;
    expect(v.a).toBe(2);
    expect(v.b).toEqual([1, 2]);
    expect({ ...(v.c as object) }).toEqual({ d: 3 });
  });

  it('still refuses comments, a lone comma and the same input in strict mode', () => {
    expect(() => parseJsonExact('{"a":1 /* x */}', { lenient: true })).toThrow();
    expect(() => parseJsonExact('[,]', { lenient: true })).toThrow();
    expect(() => parseJsonExact('{"a":1,}')).toThrow();
    expect(() => parseJsonExact('{"a":1,"a":2}')).toThrow(/duplicate key/);
  });
});
