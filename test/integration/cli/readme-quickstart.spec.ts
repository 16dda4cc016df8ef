import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@gw/db';
import {
  createScratchDatabase,
  freePort,
  gatewayEnv,
  REPO_ROOT,
  type RunningProcess,
  startNode,
  waitForStatus,
} from '@gw/testing';

const MARKER = '<!-- quickstart: test/integration/cli/readme-quickstart.spec.ts runs this block as written -->';

/** The fenced block right after the marker in README.md, exactly as a reader copies it. */
function quickstartBlock(readme: string): string {
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error('README.md has no quickstart marker');
  const m = /^```bash\n([\s\S]*?)^```$/m.exec(readme.slice(at + MARKER.length));
  if (m === null) throw new Error('no ```bash block after the quickstart marker');
  return m[1]!;
}

let scratch: { url: string; drop: () => Promise<void> };
let volumesDir: string;
let port: number;
const processes: RunningProcess[] = [];

describe('README quickstart', () => {
  beforeAll(async () => {
    scratch = await createScratchDatabase();
    await migrate(scratch.url);
    volumesDir = mkdtempSync(join(tmpdir(), 'igw-quickstart-volumes-'));
    port = await freePort();
    const env = gatewayEnv({ DATABASE_URL: scratch.url, PORT: String(port), VOLUMES_DIR: volumesDir });
    processes.push(startNode('apps/api/src/main.js', env), startNode('apps/worker/src/main.js', env));
    await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000);
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop('SIGTERM')));
    rmSync(volumesDir, { recursive: true, force: true });
    await scratch.drop();
  });

  it('runs the README commands as written against a real API and worker, and the 4,000 rows land', async () => {
    await expect.poll(() => processes[1]!.output(), { timeout: 20_000 }).toContain('import-gateway worker started');
    const script = quickstartBlock(readFileSync(resolve(REPO_ROOT, 'README.md'), 'utf8'));
    // the commands the brief asks of the quickstart are there, not paraphrased
    expect(script).toContain('npm run -s apikey -- create');
    expect(script).toContain('/v2/vectordb/collections/create');
    expect(script).toContain('npx import-gateway import products examples/products/products.parquet --wait');

    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      // what the reader's shell has: the gateway's PORT and database (the apikey step writes there)
      env: gatewayEnv({ DATABASE_URL: scratch.url, PORT: String(port) }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((ok) => child.on('close', ok));
    expect(code, `${out}\n${err}`).toBe(0);

    expect(out).toMatch(/^Completed job-[a-z0-9]{22}: 4,000 rows, 119 KiB in /m);
    expect(err).toMatch(
      /uploaded examples\/products\/products\.parquet → uploads:cli\/products\/.*\/products\.parquet/,
    );
    expect(out).toContain('"rowCount": 4000');
    const query = /^\{"code":0,"data":(\[.*\])\}$/m.exec(out);
    expect(query, out).not.toBeNull();
    const rows = JSON.parse(query![1]!) as { id: number; title: string; rating: number }[];
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.rating).toBeGreaterThan(4.8);

    // and the rows are in PostgreSQL, in the collection's table
    const db = new Client({ connectionString: scratch.url });
    await db.connect();
    try {
      const n = await db.query(
        `SELECT count(*)::int AS n, count(DISTINCT category)::int AS c FROM milvus_default.products`,
      );
      expect(n.rows[0]).toEqual({ n: 4000, c: 5 });
    } finally {
      await db.end();
    }
  }, 180_000);
});
