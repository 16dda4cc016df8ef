import { parseArgs } from 'node:util';
import { ConfigError, loadCliConfig, parseGatewayUrl } from '@gw/config';
import { CliError, CliErrorCode, EXIT_CODES, EXIT_OK, EXIT_UNEXPECTED, usageError } from './cli.errors';
import type { CliContext } from './context';
import { GatewayClient } from './gateway-client';

export const USAGE = `import-gateway — client for an import gateway (docs/cli.md)

usage:
  import-gateway import <collection> <url…|local file or folder…> [--wait] [--partition P]
                 [--volume NAME] [--prefix PATH] [--option key=value]… [--idempotency-key K]
  import-gateway jobs list [--collection C] [--state S] [--page N] [--page-size N]
  import-gateway jobs describe|cancel|wait <jobId>
  import-gateway collections list
  import-gateway collections describe <collection>
  import-gateway apikey create --name NAME --scopes a,b [--databases d1,d2] [--collections c1,db.c2]
  import-gateway apikey revoke ID|PREFIX|NAME
  import-gateway apikey list

options for every command:
  --url URL     the gateway (env IMPORT_GATEWAY_URL; default http://127.0.0.1:$PORT or :19530)
  --key KEY     API key (env IMPORT_GATEWAY_KEY)
  --db NAME     Milvus database (default: the gateway's "default")
  --json        machine-readable output
  --interval S  seconds between progress polls with --wait / jobs wait (default 0.5)

exit codes: 0 ok, 1 unexpected error, 2 usage, 3 refused by the gateway (API error),
  4 key missing/invalid/without the scope, 5 gateway unreachable, 10 job Failed,
  11 job Cancelled, 130 interrupted while waiting (the job keeps running)`;

const OPTIONS = {
  url: { type: 'string' },
  key: { type: 'string' },
  db: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  interval: { type: 'string' },
  wait: { type: 'boolean', short: 'w' },
  partition: { type: 'string' },
  volume: { type: 'string' },
  prefix: { type: 'string' },
  option: { type: 'string', short: 'o', multiple: true },
  'idempotency-key': { type: 'string' },
  collection: { type: 'string' },
  state: { type: 'string' },
  page: { type: 'string' },
  'page-size': { type: 'string' },
  name: { type: 'string' },
  scopes: { type: 'string' },
  databases: { type: 'string' },
  collections: { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;
const GLOBAL: readonly OptionName[] = ['url', 'key', 'db', 'json', 'help', 'interval'];
/** Options each command accepts besides the global ones; anything else is a usage error. */
const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  import: ['wait', 'partition', 'volume', 'prefix', 'option', 'idempotency-key'],
  'jobs list': ['collection', 'state', 'page', 'page-size'],
  'jobs describe': [],
  'jobs cancel': [],
  'jobs wait': [],
  'collections list': [],
  'collections describe': [],
  'apikey create': ['name', 'scopes', 'databases', 'collections'],
  'apikey revoke': [],
  'apikey list': [],
};

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: CliContext['stdout'];
  stderr: CliContext['stderr'];
}

/** Runs one command line; resolves to the process exit code (never throws). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await dispatch(argv, io);
    return EXIT_OK;
  } catch (e) {
    if (e instanceof CliError) {
      io.stderr.write(`${e.code === CliErrorCode.Usage ? '' : 'error: '}${e.message}\n`);
      return EXIT_CODES[e.code];
    }
    if (e instanceof ConfigError) {
      io.stderr.write(`${e.message}\n`);
      return EXIT_CODES[CliErrorCode.Usage];
    }
    io.stderr.write(`import-gateway: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT_UNEXPECTED;
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(`${(e as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    if (command === undefined && values.help !== true) throw usageError('a command is required');
    return;
  }
  const sub = command === 'import' ? undefined : rest[0];
  const key = command === 'import' ? 'import' : `${command} ${sub ?? ''}`;
  const allowed = COMMAND_OPTIONS[key];
  if (allowed === undefined) throw usageError(`unknown command: ${positionals.slice(0, 2).join(' ')}\n\n${USAGE}`);
  const given = (Object.keys(values) as OptionName[]).filter((k) => values[k] !== undefined);
  const stray = given.filter((k) => !GLOBAL.includes(k) && !allowed.includes(k));
  if (stray.length > 0) throw usageError(`${key}: option(s) not used by this command: --${stray.join(', --')}`);

  const ctx = context(values, io);
  const intervalMs = secondsOption(values.interval, 'interval', 0.5) * 1000;
  const args = command === 'import' ? rest : rest.slice(1);
  const argsAtMost = (n: number) => {
    if (args.length > n) throw usageError(`${key}: unexpected argument(s): ${args.slice(n).join(' ')}`);
  };

  // Each branch loads its module on use: `apikey` pulls in the database client, the others do not.
  switch (key) {
    case 'import': {
      const [collection, ...sources] = args;
      if (collection === undefined) throw usageError('import: <collection> is required');
      const { importCommand } = await import('./commands/import');
      return importCommand(ctx, {
        collection,
        sources,
        wait: values.wait === true,
        intervalMs,
        partition: values.partition,
        volume: values.volume,
        prefix: values.prefix,
        options: keyValues(values.option ?? []),
        idempotencyKey: values['idempotency-key'],
      });
    }
    case 'jobs list': {
      argsAtMost(0);
      const { jobsList } = await import('./commands/jobs');
      return jobsList(ctx, {
        collection: values.collection,
        state: values.state,
        page: intOption(values.page, 'page'),
        pageSize: intOption(values['page-size'], 'page-size'),
      });
    }
    case 'jobs describe':
    case 'jobs cancel':
    case 'jobs wait': {
      argsAtMost(1);
      const jobs = await import('./commands/jobs');
      const id = jobs.requireId(args[0], `${key}: <jobId>`);
      if (key === 'jobs describe') return jobs.jobsDescribe(ctx, id);
      if (key === 'jobs cancel') return jobs.jobsCancel(ctx, id);
      return jobs.jobsWait(ctx, id, intervalMs);
    }
    case 'collections list': {
      argsAtMost(0);
      const { collectionsList } = await import('./commands/collections');
      return collectionsList(ctx);
    }
    case 'collections describe': {
      argsAtMost(1);
      if (args[0] === undefined) throw usageError('collections describe: <collection> is required');
      const { collectionsDescribe } = await import('./commands/collections');
      return collectionsDescribe(ctx, args[0]);
    }
    default: {
      // apikey create | revoke | list
      argsAtMost(sub === 'revoke' ? 1 : 0);
      const { apikeyCommand } = await import('./commands/apikey');
      return apikeyCommand(ctx, sub, args[0], values);
    }
  }
}

function context(values: { url?: string; key?: string; db?: string; json?: boolean }, io: CliIo): CliContext {
  let client: GatewayClient | undefined;
  return {
    client: () => {
      if (client !== undefined) return client;
      const env = loadCliConfig(io.env);
      let url = env.url;
      if (values.url !== undefined) {
        const given = parseGatewayUrl(values.url);
        if (given === null)
          throw usageError(`--url: expected a URL starting with http:// or https:// (got ${values.url})`);
        url = given;
      }
      client = new GatewayClient(url, values.key ?? env.key);
      return client;
    },
    db: values.db,
    json: values.json === true,
    stdout: io.stdout,
    stderr: io.stderr,
  };
}

function keyValues(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw usageError(`--option: expected key=value (got ${p})`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw usageError(`--${name}: expected a whole number (got ${v})`);
  return Number(v);
}

function secondsOption(v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.05 || n > 3600)
    throw usageError(`--${name}: expected seconds from 0.05 to 3600 (got ${v})`);
  return n;
}
