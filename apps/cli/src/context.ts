import type { GatewayClient } from './gateway-client';

/** What every command gets: where to write, the parsed flags it may use, and the gateway client. */
export interface CliContext {
  /** Built on first use, so local commands (apikey) never need a URL or key. */
  client: () => GatewayClient;
  /** `--db`: the Milvus database, sent as dbName (absent = the gateway's `default`). */
  db: string | undefined;
  json: boolean;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function println(stream: NodeJS.WritableStream, line: string): void {
  stream.write(`${line}\n`);
}

/** `dbName` only when given, so the gateway applies its own default (import-api.md §2). */
export function withDb(ctx: CliContext, body: Record<string, unknown>): Record<string, unknown> {
  return ctx.db === undefined ? body : { ...body, dbName: ctx.db };
}
