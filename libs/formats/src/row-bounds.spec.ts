import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { FormatError } from './formats.errors';
import { columnValues, readAll, textInput } from './spec-helpers';

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('name', 'VarChar', { maxLength: 20 }),
    fieldOf('vec', 'FloatVector', { dim: 3 }),
  ],
};
/** The same fields with the dynamic field on: FastRowParser is never used, only the general path. */
const generalOnly: CollectionSchema = { ...schema, enableDynamicField: true };

async function outcome(format: 'json' | 'jsonl', text: string, s: CollectionSchema, chunk: number): Promise<unknown> {
  try {
    const batches = await readAll(format, [textInput(`f.${format}`, text, chunk)], s);
    return ['id', 'name', 'vec'].map((f) => columnValues(batches, f));
  } catch (e) {
    if (e instanceof FormatError) return e.message;
    throw e;
  }
}

const row = fc
  .tuple(fc.integer(), fc.string({ maxLength: 4 }), fc.array(fc.float({ noNaN: true }), { minLength: 3, maxLength: 3 }))
  .map(([id, name, vec]) => `{"id":${id},"name":${JSON.stringify(name)},"vec":[${vec.map(String).join(',')}]}`);
/** Rows, some cut short or broken where the scan of one row could run on into the next one. */
const rows = fc.array(
  fc
    .tuple(row, fc.nat(), fc.constantFrom('', '', ',3]}', ']}', '\n', '"}', ','))
    .map(([r, at, junk]) => (junk === '' ? r : r.slice(0, at % r.length) + junk)),
  { minLength: 1, maxLength: 5 },
);

describe('rows read in place from the chunk (no copy per row)', () => {
  it('give the same rows or the same error as the general path, however rows are cut', async () => {
    await fc.assert(
      fc.asyncProperty(rows, fc.integer({ min: 1, max: 4096 }), async (rs, chunk) => {
        const jsonl = rs.join('\n') + '\n';
        expect(await outcome('jsonl', jsonl, schema, chunk)).toEqual(await outcome('jsonl', jsonl, generalOnly, chunk));
        const json = `[${rs.join(',\n')}]`;
        expect(await outcome('json', json, schema, chunk)).toEqual(await outcome('json', json, generalOnly, chunk));
      }),
      { numRuns: 600 },
    );
  });

  it('does not take a row whose vector goes on in the next line', async () => {
    const text = '{"id":1,"name":"a","vec":[1,2\n,3]}\n';
    expect(await outcome('jsonl', text, schema, 4096)).toBe(await outcome('jsonl', text, generalOnly, 4096));
  });
});
