import { createRequire } from 'node:module';
import type { Server } from 'node:net';

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
  readonly httpServer: Server;
}
type BlobConfigurationCtor = new (...args: unknown[]) => object;
type BlobServerCtor = new (config: object) => AzuriteBlobServer;

export const AZURITE_ACCOUNT = 'devstoreaccount1';
/** azurite's published development key (not a secret). */
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /** PEM certificate and key files: azurite then serves HTTPS (its `--cert`/`--key`). */
  tls?: { certFile: string; keyFile: string };
}

export interface RunningAzurite {
  /** `http(s)://127.0.0.1:<port>/devstoreaccount1` */
  endpoint: string;
  /** TCP connections accepted so far (a refused TLS handshake still counts one). */
  connections: () => number;
  stop: () => Promise<void>;
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
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
    options.tls?.certFile ?? '',
    options.tls?.keyFile ?? '',
    '',
    undefined,
    true, // path-style URLs even for host names, so tests can reach it under a test-resolved name
    true,
  );
  const server = new BlobServer(config);
  let connections = 0;
  server.httpServer.on('connection', () => connections++);
  await server.start();
  const origin = server.getHttpServerAddress();
  return {
    endpoint: `${origin}/${AZURITE_ACCOUNT}`,
    connections: () => connections,
    stop: async () => {
      await server.close();
      await server.clean();
    },
  };
}
