import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromFloat16Bits, toFloat16Bits } from '@gw/schema';
import { float32Shortest, JsonInt64, RawJson, serializeJson } from './json-out';

describe('serializeJson', () => {
  const data = { insertCount: 2, insertIds: [new JsonInt64('9223372036854775807'), new JsonInt64('-1')] };

  it('renders Int64 as strings by default, as Milvus does', () => {
    expect(serializeJson(data)).toBe('{"insertCount":2,"insertIds":["9223372036854775807","-1"]}');
    expect(JSON.stringify(data)).toBe(serializeJson(data));
  });

  it('renders Int64 as exact JSON numbers with allowInt64Numbers', () => {
    expect(serializeJson(data, { allowInt64Numbers: true })).toBe(
      '{"insertCount":2,"insertIds":[9223372036854775807,-1]}',
    );
  });

  it('embeds raw JSON text unchanged and escapes keys', () => {
    expect(serializeJson({ 'a"b': new RawJson('{"x": 12345678901234567890}'), n: null, u: undefined })).toBe(
      '{"a\\"b":{"x": 12345678901234567890},"n":null}',
    );
  });

  it('wraps a whole envelope', () => {
    expect(serializeJson({ code: 0, data: [{ 'count(*)': new JsonInt64('3') }] })).toBe(
      '{"code":0,"data":[{"count(*)":"3"}]}',
    );
  });

  it('refuses a JsonInt64 that is not an integer', () => {
    expect(() => new JsonInt64('1; drop')).toThrow();
  });
});

describe('float32Shortest', () => {
  it('prints float32 values as the shortest decimal that reads back', () => {
    expect(float32Shortest(Math.fround(0.1))).toBe(0.1);
    expect(float32Shortest(Math.fround(1 / 3))).toBe(0.33333334);
    expect(float32Shortest(3.4028234663852886e38)).toBe(3.4028235e38);
    expect(float32Shortest(0)).toBe(0);
  });

  it('always reads back as the same float32', () => {
    fc.assert(
      fc.property(fc.float({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const s = float32Shortest(x);
        // === rather than Object.is: JSON has no negative zero.
        expect(Math.fround(Number(JSON.stringify(s))) === Math.fround(x)).toBe(true);
        expect(
          JSON.stringify(s)
            .replace(/^-|e.*$|\./g, '')
            .replace(/^0+|0+$/g, '').length,
        ).toBeLessThanOrEqual(9);
      }),
    );
  });
});

describe('float16 conversion', () => {
  it('round-trips every half-precision value', () => {
    for (let h = 0; h < 0x10000; h++) {
      const exp = (h >> 10) & 0x1f;
      if (exp === 0x1f && (h & 0x3ff) !== 0) continue; // NaN payloads
      expect(toFloat16Bits(fromFloat16Bits(h))).toBe(h);
    }
  });

  it('rounds to nearest even', () => {
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toFloat16Bits(65520)).toBe(-1); // overflow is reported, never silently infinity
  });
});
