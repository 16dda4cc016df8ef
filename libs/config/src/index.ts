export {
  type AppConfig,
  CONFIG_VARIABLES,
  ConfigError,
  decodeSecretKey,
  defaultParseThreads,
  getConfig,
  loadConfig,
  loadDotEnv,
  redactUrl,
  resetConfigCache,
} from './config';
export {
  MAX_JOB_TIMEOUT_MS,
  MIN_JOB_RETENTION_MS,
  parseByteSize,
  parseDuration,
  parseJobRetention,
  parseJobTimeout,
} from './duration';
export { APP_CONFIG, ConfigModule } from './config.module';
export { type AzureConnectionString, parseAzureConnectionString } from './azure-connection-string';
export {
  CONNECTIONS_PER_WORKER_SLOT,
  type DatabaseSettings,
  databaseSettings,
  type ProcessRole,
  WORKER_BACKGROUND_CONNECTIONS,
} from './database-settings';
export { type CliConfig, loadCliConfig, parseGatewayUrl } from './cli-config';
