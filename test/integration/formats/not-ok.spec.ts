import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '@gw/formats';
import { ensureFixtures, smallSchema, type NotOkCase } from '../../fixtures/make';
import { inputsOf, readGroup } from './helpers';

let dir = '';
let cases: Record<string, NotOkCase> = {};

beforeAll(async () => {
  dir = join(await ensureFixtures(), 'not-ok');
  cases = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, NotOkCase>;
}, 120_000);

describe('not-ok fixtures', () => {
  it('has at least 20 damaged or invalid cases', () => {
    expect(Object.keys(cases).length).toBeGreaterThanOrEqual(20);
  });

  it('fails every case with exactly the expected message, as a non-retryable FormatError', async () => {
    const seen: Record<string, string> = {};
    for (const [name, c] of Object.entries(cases)) {
      const inputs = await inputsOf(dir, c.files);
      let message = '<no error>';
      try {
        await readGroup(c.format, inputs, smallSchema(c.schema === 'small-autoid'));
      } catch (e) {
        expect(e, name).toBeInstanceOf(FormatError);
        expect((e as FormatError).retryable).toBe(false);
        message = (e as Error).message;
      }
      seen[name] = message;
    }
    const expected = Object.fromEntries(Object.entries(cases).map(([k, c]) => [k, c.message]));
    expect(seen).toEqual(expected);
  });
});
