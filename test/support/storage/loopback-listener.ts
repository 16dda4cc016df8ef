import type { AddressInfo, Server, Socket } from 'node:net';

/** A test server listening on 127.0.0.1 at a free port, whose `stop` also ends open keep-alive sockets. */
export interface LoopbackListener {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (never another interface; `host` may name another 127.0.0.0/8 address) and
 * tracks the accepted sockets so `stop` can destroy them; `onConnection` sees each accepted TCP
 * connection (a refused TLS handshake counts).
 */
export async function listenOnLoopback(
  server: Server,
  onConnection?: () => void,
  host = '127.0.0.1',
): Promise<LoopbackListener> {
  if (!host.startsWith('127.')) throw new Error(`listenOnLoopback: ${host} is not in 127.0.0.0/8`);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    onConnection?.();
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
