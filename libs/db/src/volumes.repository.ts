import type { Pool } from 'pg';
import { inTransaction } from '@gw/pg';

export interface VolumeRecord {
  name: string;
  backend: string;
  location: string;
  projectId: string | null;
  regionId: string | null;
  createdAt: Date;
}

export type DeleteVolumeResult = 'deleted' | 'not-found' | 'in-use';

const COLUMNS = `name, backend, location, project_id AS "projectId", region_id AS "regionId", created_at AS "createdAt"`;

/** The `volumes` table: which volumes exist (PostgreSQL is the source of truth; files live in the backend). */
export class VolumesRepository {
  constructor(private readonly pool: Pool) {}

  /** Null when a volume of that name already exists. */
  async create(v: Omit<VolumeRecord, 'createdAt'>): Promise<VolumeRecord | null> {
    const r = await this.pool.query<VolumeRecord>(
      `INSERT INTO volumes (name, backend, location, project_id, region_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
      [v.name, v.backend, v.location, v.projectId, v.regionId],
    );
    return r.rows[0] ?? null;
  }

  async find(name: string): Promise<VolumeRecord | null> {
    const r = await this.pool.query<VolumeRecord>(`SELECT ${COLUMNS} FROM volumes WHERE name = $1`, [name]);
    return r.rows[0] ?? null;
  }

  async list(limit: number, offset: number): Promise<{ count: number; volumes: VolumeRecord[] }> {
    const [rows, count] = await Promise.all([
      this.pool.query<VolumeRecord>(`SELECT ${COLUMNS} FROM volumes ORDER BY name LIMIT $1 OFFSET $2`, [limit, offset]),
      this.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM volumes'),
    ]);
    return { count: Number(count.rows[0]!.n), volumes: rows.rows };
  }

  /**
   * Removes the row unless a Pending/Importing job names the volume. The row lock makes the check
   * and the delete one step against another delete; `removeFiles` runs while the lock is held, so
   * the row disappears only once the files are gone (a failure leaves the volume listed).
   */
  async deleteUnlessInUse(name: string, removeFiles: () => Promise<void>): Promise<DeleteVolumeResult> {
    return inTransaction(this.pool, async (c) => {
      const found = await c.query('SELECT 1 FROM volumes WHERE name = $1 FOR UPDATE', [name]);
      if (found.rowCount === 0) return 'not-found';
      // A fresh snapshot (READ COMMITTED): jobs committed while this waited for the lock are seen.
      const active = await c.query(
        `SELECT 1 FROM import_jobs WHERE state IN ('Pending', 'Importing') AND request ? 'volumeName'
            AND request ->> 'volumeName' = $1 LIMIT 1`,
        [name],
      );
      if ((active.rowCount ?? 0) > 0) return 'in-use';
      await removeFiles();
      await c.query('DELETE FROM volumes WHERE name = $1', [name]);
      return 'deleted';
    });
  }
}
