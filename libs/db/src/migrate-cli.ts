import { ConfigError, loadConfig, loadDotEnv, redactUrl } from '@gw/config';
import { migrate } from './migrate';

/** `npm run db:migrate`: apply pending migrations to DATABASE_URL. */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig(process.env, (m) => console.warn(m));
  const res = await migrate(config.databaseUrl, { log: (m) => console.log(m) });
  console.log(
    res.applied.length === 0
      ? `database ${redactUrl(config.databaseUrl)} is up to date (${res.alreadyApplied} migrations)`
      : `applied ${res.applied.length} migration(s) to ${redactUrl(config.databaseUrl)}`,
  );
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : `migration failed: ${(e as Error).message}`);
  process.exit(1);
});
