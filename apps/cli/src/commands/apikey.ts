import { loadConfig, loadDotEnv } from '@gw/config';
import { ApiKeysRepository, createPool, migrate, SCOPES, type Scope } from '@gw/db';
import { CliError, CliErrorCode, usageError } from '../cli.errors';
import { type CliContext, println } from '../context';

export const APIKEY_USAGE = `usage:
  import-gateway apikey create --name NAME --scopes a,b [--databases d1,d2] [--collections c1,db.c2]
  import-gateway apikey revoke ID|PREFIX|NAME
  import-gateway apikey list
(or npm run apikey -- …) scopes: ${SCOPES.join(', ')}`;

export interface ApikeyOptions {
  name?: string | undefined;
  scopes?: string | undefined;
  databases?: string | undefined;
  collections?: string | undefined;
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/**
 * Key management works on the job database directly (DATABASE_URL, .env), like `npm run apikey`:
 * creating the first key cannot need a key. Migrations are applied first, so it works on a fresh
 * database. `create` prints the key alone on the last line of stdout (config.md contract).
 */
export async function apikeyCommand(
  ctx: CliContext,
  sub: string | undefined,
  arg: string | undefined,
  o: ApikeyOptions,
): Promise<void> {
  if (sub === undefined || !['create', 'revoke', 'list'].includes(sub)) throw usageError(APIKEY_USAGE);
  if (sub === 'create') {
    const scopes = list(o.scopes);
    const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (bad.length > 0) throw usageError(`unknown scope(s): ${bad.join(', ')}\n${APIKEY_USAGE}`);
    if (o.name === undefined || o.name === '' || scopes.length === 0) throw usageError(APIKEY_USAGE);
  }
  if (sub === 'revoke' && (arg === undefined || arg === '')) throw usageError(APIKEY_USAGE);
  loadDotEnv();
  const config = loadConfig(process.env, (w) => ctx.stderr.write(`${w}\n`));
  await migrate(config.databaseUrl);
  const pool = createPool(config.databaseUrl, 'igw-apikey', 1);
  try {
    const repo = new ApiKeysRepository(pool);
    if (sub === 'create') {
      const { key, record } = await repo.create({
        name: o.name!,
        scopes: list(o.scopes) as Scope[],
        databases: list(o.databases),
        collections: list(o.collections),
      });
      println(
        ctx.stdout,
        `created API key ${record.id} "${record.name}" (${record.scopes.join(', ')}); it is shown once:`,
      );
      println(ctx.stdout, key);
    } else if (sub === 'revoke') {
      const n = await repo.revoke(arg!);
      if (n === 0) throw new CliError(CliErrorCode.Api, `no active key matches ${arg}`);
      println(ctx.stdout, `revoked ${n} key(s)`);
    } else {
      const keys = await repo.list();
      if (ctx.json) {
        const shown = keys.map((k) => ({
          id: k.id,
          name: k.name,
          keyPrefix: k.keyPrefix,
          scopes: k.scopes,
          state: k.revokedAt ? 'revoked' : 'active',
        }));
        return println(ctx.stdout, JSON.stringify(shown, null, 2));
      }
      for (const k of keys) {
        println(
          ctx.stdout,
          [k.id, k.name, `${k.keyPrefix}…`, k.scopes.join(','), k.revokedAt ? 'revoked' : 'active'].join('\t'),
        );
      }
    }
  } finally {
    await pool.end();
  }
}
