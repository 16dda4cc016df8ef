import { describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { columnValues, failure, readAll, textInput } from './spec-helpers';

const schema: CollectionSchema = {
  enableDynamicField: true,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('ok', 'Bool'),
    fieldOf('name', 'VarChar', { maxLength: 30 }),
    fieldOf('n', 'Int32', { nullable: true }),
    fieldOf('vec', 'FloatVector', { dim: 2 }),
    fieldOf('doc', 'JSON'),
  ],
};

describe('CSV reader', () => {
  it('reads quoted fields with separators, doubled quotes and line breaks, split across chunks', async () => {
    const text =
      '\ufeffid,ok,name,n,vec,doc,extra\r\n' +
      '9007199254740993,True,"a, ""b""\nc",,"[1,2]","{""k"":1}",x\r\n' +
      '2,FALSE,,7,"[3,4]",[],"y"\r\n';
    const batches = await readAll('csv', [textInput('f.csv', text, 4)], schema);
    expect(columnValues(batches, 'id')).toEqual([9007199254740993n, 2n]);
    expect(columnValues(batches, 'ok')).toEqual([true, false]);
    expect(columnValues(batches, 'name')).toEqual(['a, "b"\nc', '']);
    expect(columnValues(batches, 'n')).toEqual([null, 7]);
    expect(columnValues(batches, 'vec')).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(columnValues(batches, 'doc')).toEqual(['{"k":1}', '[]']);
    expect(batches[0]!.meta).toEqual(['{"extra":"x"}', '{"extra":"y"}']);
  });

  it('honours sep and nullkey, and nullkey only for nullable fields', async () => {
    const text = 'id;ok;name;n;vec;doc\n1;true;NULL;NULL;[1,2];{}\n';
    const batches = await readAll('csv', [textInput('f.csv', text)], schema, { sep: ';', nullkey: 'NULL' });
    expect(columnValues(batches, 'name')).toEqual(['NULL']);
    expect(columnValues(batches, 'n')).toEqual([null]);
  });

  it('names data row and start line of a record with a bad value', async () => {
    const text = 'id,ok,name,n,vec,doc\n1,true,"x\ny",1,"[1,2]",{}\n2,maybe,z,1,"[1,2]",{}\n';
    const e = await failure(readAll('csv', [textInput('f.csv', text)], schema));
    expect(e.message).toBe('f.csv: row 2 (line 4), field \'ok\': expected Bool, got "maybe"');
  });

  it('refuses a vector cell that is not JSON', async () => {
    const text = 'id,ok,name,n,vec,doc\n1,true,x,1,1;2,{}\n';
    const e = await failure(readAll('csv', [textInput('f.csv', text)], schema));
    expect(e.message).toBe(
      "f.csv: row 1 (line 2), field 'vec': invalid JSON text: unexpected character ';' after the value",
    );
  });

  it('refuses a header column that is not in the schema without the dynamic field', async () => {
    const s: CollectionSchema = { ...schema, enableDynamicField: false };
    const e = await failure(readAll('csv', [textInput('f.csv', 'id,zz\n1,2\n')], s));
    expect(e.message).toBe("f.csv: field 'zz': field 'zz' is not defined in the schema");
  });
});
