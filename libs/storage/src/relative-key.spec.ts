import { describe, expect, it } from 'vitest';
import { relativeKeyProblem } from './relative-key';

describe('relativeKeyProblem (paths inside a volume)', () => {
  it.each([
    ['data/rows.parquet'],
    ['rows.jsonl'],
    ['a/b/c/1/id.npy'],
    ['données/été.csv'],
    ['with space/and-dash_underscore.json'],
  ])('accepts %s', (p) => {
    expect(relativeKeyProblem(p)).toBeNull();
  });

  it.each([
    ['', 'empty path'],
    ['../x.json', '".." is not allowed'],
    ['a/../../x.json', '".." is not allowed'],
    ['a/./x.json', '"." is not allowed'],
    ['/etc/passwd', 'absolute paths are not allowed'],
    ['a//b.json', 'empty path segments are not allowed'],
    ['a\\..\\b.json', 'backslashes are not allowed'],
    ['a\u0000b.json', 'control characters are not allowed'],
    ['a\nb.json', 'control characters are not allowed'],
    ['.hidden', 'names starting with "." are not allowed'],
    ['a/.igw-upload-0123456789abcdef', 'names starting with "." are not allowed'],
    [`${'x'.repeat(256)}.json`, 'a path segment is longer than 255 bytes'],
    [`${'x/'.repeat(600)}a`, 'longer than 1024 bytes'],
  ])('refuses %j: %s', (p, why) => {
    expect(relativeKeyProblem(p)).toBe(why);
  });

  it('tells folders from files as asked', () => {
    expect(relativeKeyProblem('data/', { folder: 'refused' })).toBe('a file path cannot end with /');
    expect(relativeKeyProblem('data', { folder: 'required' })).toBe('a folder path must end with /');
    expect(relativeKeyProblem('data/', { folder: 'required' })).toBeNull();
    expect(relativeKeyProblem('data/')).toBeNull();
  });
});
