import { type AppConfig, ConfigError, loadConfig, loadDotEnv } from '@gw/config';
import { migrate } from '@gw/db';
import { createRootLogger, type Logger } from '@gw/logger';
import { describePreflightFailure, preflight } from './preflight';

/**
 * What every process does before Nest starts: parse config (exit naming every bad variable),
 * check PostgreSQL and Redis answer (exit within STARTUP_TIMEOUT_MS naming the one that does not),
 * and apply migrations (safe when API and worker start together: an advisory lock serialises them).
 */
/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: addresses no other host can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return /^127(\.\d{1,3}){3}$/.test(v4);
}

export async function bootProcess(role: 'api' | 'worker'): Promise<{ config: AppConfig; logger: Logger }> {
  let config: AppConfig;
  const warnings: string[] = [];
  try {
    loadDotEnv();
    config = loadConfig(process.env, (w) => warnings.push(w));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`import-gateway ${role}: ${e.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw e;
  }
  const logger = createRootLogger(config.logLevel).child({ role });
  for (const w of warnings) logger.warn(w);
  if (config.authDisabled && config.env === 'production' && !isLoopbackHost(config.host)) {
    const text =
      `AUTH_DISABLED=true with NODE_ENV=production is refused unless HOST is a loopback address (HOST=${config.host}); ` +
      'unset AUTH_DISABLED and use API keys, or bind HOST=127.0.0.1';
    logger.fatal(text);
    process.stderr.write(`import-gateway ${role}: ${text}\n`);
    process.exit(78); // EX_CONFIG
  }
  if (config.authDisabled) {
    logger.warn('AUTH_DISABLED=true: every request is accepted without an API key. Never do this outside development.');
  }

  const failures = await preflight(config);
  if (failures.length > 0) {
    for (const f of failures) {
      const text = describePreflightFailure(f);
      logger.fatal(text);
      process.stderr.write(`import-gateway ${role}: ${text}\n`);
    }
    process.exit(69); // EX_UNAVAILABLE
  }

  const res = await migrate(config.databaseUrl, { log: (m) => logger.info(m) });
  logger.info({ applied: res.applied.length, known: res.alreadyApplied }, 'database schema up to date');
  return { config, logger };
}
