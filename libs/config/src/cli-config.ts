import { z } from 'zod';
import { ConfigError } from './config';

/**
 * What the `import-gateway` CLI reads from the environment: where the gateway is and the API key
 * to call it with (docs/cli.md). Command-line flags (`--url`, `--key`) win over these.
 */
export interface CliConfig {
  /** Base URL of the gateway, without a trailing slash. */
  url: string;
  key: string | undefined;
}

const cliEnvSchema = z.object({
  IMPORT_GATEWAY_URL: z.string().trim().optional(),
  IMPORT_GATEWAY_KEY: z.string().trim().optional(),
  PORT: z.string().trim().optional(),
});

/** A gateway base URL as given on the command line or in IMPORT_GATEWAY_URL, or null if not http(s). */
export function parseGatewayUrl(text: string): string | null {
  try {
    const u = new URL(text);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.toString().replace(/\/+$/, '');
  } catch {
    return null;
  }
}

export function loadCliConfig(source: NodeJS.ProcessEnv = process.env): CliConfig {
  const env = cliEnvSchema.parse(source);
  // A gateway started from this checkout listens on PORT (default 19530), so that is the default.
  const port = env.PORT !== undefined && /^\d+$/.test(env.PORT) ? env.PORT : '19530';
  const given =
    env.IMPORT_GATEWAY_URL === undefined || env.IMPORT_GATEWAY_URL === '' ? undefined : env.IMPORT_GATEWAY_URL;
  const url = parseGatewayUrl(given ?? `http://127.0.0.1:${port}`);
  if (url === null) {
    throw new ConfigError([
      `IMPORT_GATEWAY_URL: expected a URL starting with http:// or https:// (got ${JSON.stringify(given)})`,
    ]);
  }
  const key =
    env.IMPORT_GATEWAY_KEY === undefined || env.IMPORT_GATEWAY_KEY === '' ? undefined : env.IMPORT_GATEWAY_KEY;
  return { url, key };
}
