import { createRequire } from 'node:module';

/**
 * azurite's blob service started in-process with in-memory persistence on a free loopback port.
 * azurite's package entry point imports `vscode`, so its server classes are loaded from their
 * files; they have no type declarations, hence the small interfaces below.
 */
interface AzuriteBlobServer {
  start(): Promise<void>;
  close(): Promise<void>;
  clean(): Promise<void>;
  getHttpServerAddress(): string;
}
type BlobConfigurationCtor = new (...args: unknown[]) => object;
type BlobServerCtor = new (config: object) => AzuriteBlobServer;

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** azurite's published development key (not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export async function startAzurite(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const req = createRequire(__filename);
  const BlobServer = (req('azurite/dist/src/blob/BlobServer') as { default: BlobServerCtor }).default;
  const BlobConfiguration = (req('azurite/dist/src/blob/BlobConfiguration') as { default: BlobConfigurationCtor })
    .default;
  // Positional: host, port, keepAlive, metadataDB, extentDB, persistence, accessLog, accessLogStream,
  // debugLog, debugLogPath, loose, skipApiVersionCheck, cert, key, pwd, oauth, disableProductStyleUrl,
  // isMemoryPersistence.
  const config = new BlobConfiguration(
    '127.0.0.1',
    0,
    undefined,
    undefined,
    undefined,
    undefined,
    false,
    undefined,
    false,
    undefined,
    false,
    true,
    '',
    '',
    '',
    undefined,
    true, // path-style URLs even for host names, so tests can reach it under a test-resolved name
    true,
  );
  const server = new BlobServer(config);
  await server.start();
  const origin = server.getHttpServerAddress();
  return {
    endpoint: `${origin}/${AZURITE_ACCOUNT}`,
    stop: async () => {
      await server.close();
      await server.clean();
    },
  };
}
