import type { PoolClient } from 'pg';
import { pgSchemaName } from '@gw/collections';
import { PARTITION_COLUMN, type RowBatch } from '@gw/schema';
import {
  buildCopyLayout,
  type CopyLayout,
  copyBatches,
  groupColumn,
  publishSql,
  qualifiedName,
  stagingTableSql,
  STAGING_GROUP_COLUMN,
  toSinkError,
} from '@gw/sink';
import type { ImportSink, StagingSpec } from './import-sink';

/** ImportSink over libs/sink: binary COPY into a staging table, INSERT … SELECT to publish. */
export class CopyImportSink implements ImportSink {
  private layout(spec: StagingSpec, group: number): CopyLayout {
    const { collection } = spec;
    return buildCopyLayout({
      fields: collection.schema.fields,
      storage: collection.storage,
      dynamicField: collection.schema.enableDynamicField,
      extra: [{ name: PARTITION_COLUMN, type: 'text', value: spec.partition }, groupColumn(group)],
    });
  }

  async prepare(client: PoolClient, spec: StagingSpec): Promise<void> {
    const exists = await client.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
      qualifiedName(spec.table),
    ]);
    if (exists.rows[0]?.t != null) return;
    await client.query(stagingTableSql(spec.table.schema, spec.table.name, this.layout(spec, 0)));
  }

  async clearGroup(client: PoolClient, spec: StagingSpec, group: number): Promise<void> {
    await client.query(`DELETE FROM ${qualifiedName(spec.table)} WHERE "${STAGING_GROUP_COLUMN}" = $1`, [group]);
  }

  async copyGroup(
    client: PoolClient,
    spec: StagingSpec,
    group: number,
    batches: AsyncIterable<RowBatch>,
    signal: AbortSignal,
  ): Promise<number> {
    const { rows } = await copyBatches(client, spec.table, this.layout(spec, group), batches, { signal });
    return rows;
  }

  async publish(client: PoolClient, spec: StagingSpec): Promise<number> {
    const layout = this.layout(spec, 0);
    const target = { schema: pgSchemaName(spec.collection.db), name: spec.collection.name };
    try {
      const r = await client.query(publishSql(target, spec.table, layout));
      return r.rowCount ?? 0;
    } catch (e) {
      throw toSinkError(e, { layout });
    }
  }

  async drop(client: PoolClient, spec: StagingSpec): Promise<void> {
    await client.query(`DROP TABLE IF EXISTS ${qualifiedName(spec.table)}`);
  }
}
