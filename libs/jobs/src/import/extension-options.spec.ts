import { describe, expect, it } from 'vitest';
import { JobsError } from '../jobs.errors';
import { exceedsBadRowLimit, parseBadRowLimit, parseImportExtensions } from './extension-options';

function rejects(options: Record<string, string>, message: RegExp): void {
  let caught: unknown;
  try {
    parseImportExtensions(options);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(JobsError);
  expect((caught as JobsError).message).toMatch(message);
}

describe('gateway option extensions', () => {
  it('gives today’s behaviour when no extension key is set', () => {
    expect(parseImportExtensions({ timeout: '300s', sep: ',' })).toEqual({
      dryRun: false,
      errorMode: 'abort',
      skipImported: false,
      onConflict: 'error',
    });
  });

  it('reads every key, values without case', () => {
    expect(
      parseImportExtensions({
        dry_run: 'TRUE',
        error_mode: 'Continue',
        max_bad_rows: '0.5%',
        skip_imported: 'true',
        on_conflict: 'UPSERT',
        webhook_url: 'https://hooks.example.test/imports?team=a',
      }),
    ).toEqual({
      dryRun: true,
      errorMode: 'continue',
      maxBadRows: { kind: 'percent', percent: 0.5 },
      skipImported: true,
      onConflict: 'upsert',
      webhookUrl: 'https://hooks.example.test/imports?team=a',
    });
  });

  it('max_bad_rows alone means continue; with abort it is refused', () => {
    expect(parseImportExtensions({ max_bad_rows: '10' })).toMatchObject({
      errorMode: 'continue',
      maxBadRows: { kind: 'count', count: 10 },
    });
    rejects({ max_bad_rows: '10', error_mode: 'abort' }, /needs error_mode=continue/);
  });

  it('refuses invalid values with a message naming the key', () => {
    rejects({ dry_run: 'yes' }, /options\.dry_run must be "true" or "false"/);
    rejects({ error_mode: 'skip' }, /options\.error_mode must be one of abort, continue/);
    rejects({ on_conflict: 'replace' }, /options\.on_conflict must be one of error, skip, upsert/);
    rejects({ skip_imported: '1' }, /options\.skip_imported/);
    rejects({ max_bad_rows: '-1' }, /options\.max_bad_rows/);
    rejects({ max_bad_rows: '101%' }, /options\.max_bad_rows/);
    rejects({ max_bad_rows: '1e3' }, /options\.max_bad_rows/);
    rejects({ webhook_url: 'ftp://x.test/' }, /http or https/);
    rejects({ webhook_url: 'not a url' }, /not a URL/);
    rejects({ webhook_url: 'https://u:p@x.test/' }, /user name or password/);
    rejects({ webhook_url: `https://x.test/${'a'.repeat(3000)}` }, /longer than/);
  });

  it('compares rejected rows with the limit', () => {
    expect(exceedsBadRowLimit(undefined, 1e9, 1e9)).toBe(false);
    expect(exceedsBadRowLimit(parseBadRowLimit('2'), 2, 10)).toBe(false);
    expect(exceedsBadRowLimit(parseBadRowLimit('2'), 3, 10)).toBe(true);
    expect(exceedsBadRowLimit(parseBadRowLimit('10%'), 1, 10)).toBe(false);
    expect(exceedsBadRowLimit(parseBadRowLimit('10%'), 2, 10)).toBe(true);
    expect(exceedsBadRowLimit(parseBadRowLimit('0%'), 0, 0)).toBe(false);
  });
});
