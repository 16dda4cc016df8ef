import { describe, expect, it } from 'vitest';
import { formatOf, validateCsvOptions } from './format-of';
import { FormatError, FormatErrorCode } from './formats.errors';

function thrown(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FormatError) return e;
    throw e;
  }
  throw new Error('expected a FormatError');
}

describe('formatOf', () => {
  it('picks the format from the extension, case-insensitively, ignoring a query string', () => {
    expect(formatOf(['a/B.JSON'])).toBe('json');
    expect(formatOf(['x.ndjson'])).toBe('jsonl');
    expect(formatOf(['x.jsonl'])).toBe('jsonl');
    expect(formatOf(['s3://b/k/x.Parquet?versionId=3'])).toBe('parquet');
    expect(formatOf(['d/id.npy', 'd/vec.NPY'])).toBe('numpy');
    expect(formatOf(['x.csv'])).toBe('csv');
  });

  it('refuses other extensions and multi-file groups that are not all .npy', () => {
    const e = thrown(() => formatOf(['data.json.gz']));
    expect(e.code).toBe(FormatErrorCode.UnsupportedFileType);
    expect(e.message).toBe('unsupported file type: data.json.gz');
    expect(thrown(() => formatOf(['a.npy', 'b.json'])).message).toBe(
      'unsupported file type: b.json (a group of several files must be all .npy)',
    );
    expect(thrown(() => formatOf(['dir.v2/noext'])).message).toBe('unsupported file type: dir.v2/noext');
  });
});

describe('validateCsvOptions', () => {
  it('defaults to comma and empty nullkey', () => {
    expect(validateCsvOptions()).toEqual({ sep: ',', nullkey: '' });
    expect(validateCsvOptions('\t', 'NULL')).toEqual({ sep: '\t', nullkey: 'NULL' });
  });

  it.each(['"', '\r', '\n', '\0', ';;', ''])('refuses sep %j with InvalidOptions', (sep) => {
    expect(thrown(() => validateCsvOptions(sep)).code).toBe(FormatErrorCode.InvalidOptions);
  });
});
