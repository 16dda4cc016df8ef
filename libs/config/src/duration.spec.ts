import { describe, expect, it } from 'vitest';
import { parseByteSize, parseDuration, parseJobTimeout } from './duration';

describe('parseDuration', () => {
  it.each([
    ['300s', 300_000],
    ['1.5h', 5_400_000],
    ['1h45m', 6_300_000],
    ['1h45', 6_300_000],
    ['2m30', 150_000],
    ['90', 90_000],
    ['250ms', 250],
    ['1h0m30s', 3_630_000],
    ['30s5', 30_005],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '1x', 'h', '1h 30m', '-5s', '1h45m30s10x', '5h30x', '10ns5'])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeNull();
  });
});

describe('parseJobTimeout', () => {
  it('refuses zero and more than 30 days', () => {
    expect(parseJobTimeout('0s')).toBeNull();
    expect(parseJobTimeout('721h')).toBeNull();
    expect(parseJobTimeout('720h')).toBe(720 * 3_600_000);
  });
});

describe('parseByteSize', () => {
  it('reads sizes with units', () => {
    expect(parseByteSize('64mb')).toBe(64 * 1024 * 1024);
    expect(parseByteSize('512KB')).toBe(512 * 1024);
    expect(parseByteSize('100')).toBe(100);
    expect(parseByteSize('lots')).toBeNull();
  });
});
