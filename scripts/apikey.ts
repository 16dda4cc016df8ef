import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, loadDotEnv } from '@gw/config';
import { ApiKeysRepository, createPool, migrate, SCOPES, type Scope } from '@gw/db';

const USAGE = `usage:
  npm run apikey -- create --name NAME --scopes a,b [--databases d1,d2] [--collections c1,db.c2]
  npm run apikey -- revoke ID|PREFIX|NAME
  npm run apikey -- list
scopes: ${SCOPES.join(', ')}`;

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      scopes: { type: 'string' },
      databases: { type: 'string' },
      collections: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, arg] = positionals;
  if (values.help || command === undefined) {
    console.error(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  loadDotEnv();
  const config = loadConfig(process.env, (w) => console.error(w));
  await migrate(config.databaseUrl);
  const pool = createPool(config.databaseUrl, 'igw-apikey', 1);
  try {
    const repo = new ApiKeysRepository(pool);
    switch (command) {
      case 'create': {
        const scopes = list(values.scopes);
        const bad = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
        if (!values.name || scopes.length === 0 || bad.length > 0) {
          console.error(bad.length > 0 ? `unknown scope(s): ${bad.join(', ')}\n${USAGE}` : USAGE);
          return 2;
        }
        const { key, record } = await repo.create({
          name: values.name,
          scopes: scopes as Scope[],
          databases: list(values.databases),
          collections: list(values.collections),
        });
        console.log(`created API key ${record.id} "${record.name}" (${record.scopes.join(', ')}); it is shown once:`);
        console.log(key);
        return 0;
      }
      case 'revoke': {
        if (arg === undefined) {
          console.error(USAGE);
          return 2;
        }
        const n = await repo.revoke(arg);
        console.log(n === 0 ? `no active key matches ${arg}` : `revoked ${n} key(s)`);
        return n === 0 ? 1 : 0;
      }
      case 'list': {
        for (const k of await repo.list()) {
          console.log(
            [k.id, k.name, `${k.keyPrefix}…`, k.scopes.join(','), k.revokedAt ? 'revoked' : 'active'].join('\t'),
          );
        }
        return 0;
      }
      default:
        console.error(USAGE);
        return 2;
    }
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof ConfigError ? e.message : `apikey: ${(e as Error).message}`);
    process.exit(1);
  },
);
