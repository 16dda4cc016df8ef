import type { Server } from 'node:http';

/**
 * How long the API keeps an idle kept-alive connection open. Node's default (5 s) is checked by a
 * timer, and timers run before pending socket reads: when the event loop lags by seconds (a burst
 * of creates on 2 cores), the timer closes a connection whose client already sent its next request,
 * which the client sees as `other side closed` / ECONNRESET with no answer (docs/reliability.md,
 * admission at full scale). Waiting longer than any client or load balancer keeps an idle
 * connection (undici 4 s, ALB 60 s) makes the client the side that closes.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function tuneHttpServer(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  // Node requires the headers deadline to exceed the keep-alive timeout.
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
}
