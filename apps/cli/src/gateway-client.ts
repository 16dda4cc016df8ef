import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { z } from 'zod';
import { CliError, CliErrorCode } from './cli.errors';

/** Milvus codes that mean "your key", not "your request" (import-api.md §3). */
const AUTH_CODES = new Set([1800, 1401]);

const envelope = z.object({ code: z.number(), message: z.string().optional(), data: z.unknown().optional() });

export interface UploadResult {
  size: number;
  /** Of the bytes sent; equal to the gateway's when it reports one. */
  sha256: string;
}

/**
 * The gateway's REST API as the CLI uses it: JSON bodies, the Milvus envelope, and errors turned
 * into CliError with the right exit code. Only fetch, so a remote gateway needs nothing else.
 */
export class GatewayClient {
  constructor(
    readonly baseUrl: string,
    private readonly key: string | undefined,
  ) {}

  /** POST (or GET) a JSON body to a v2 route and return `data`, or throw on a non-zero code. */
  async call(
    path: string,
    body: Record<string, unknown> = {},
    opts: { method?: 'POST' | 'GET'; headers?: Record<string, string> } = {},
  ): Promise<unknown> {
    const method = opts.method ?? 'POST';
    return this.send(path, {
      method,
      headers: { 'Content-Type': 'application/json', ...(opts.headers ?? {}) },
      ...(method === 'GET' ? {} : { body: JSON.stringify(body) }),
    });
  }

  /**
   * Streams a local file to `PUT /v2/volumes/{volume}/files/{path}` (storage.md §7) without
   * reading it whole, hashing it on the way so the answer's size can be checked.
   */
  async upload(
    volume: string,
    path: string,
    file: string,
    size: number,
    onBytes: (sent: number) => void = () => undefined,
  ): Promise<UploadResult> {
    const hash = createHash('sha256');
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        sent += chunk.length;
        onBytes(sent);
        cb(null, chunk);
      },
    });
    const input = createReadStream(file).on('error', (e) => counter.destroy(e));
    const body = Readable.toWeb(input.pipe(counter)) as ReadableStream<Uint8Array>;
    const data = await this.send(`/v2/volumes/${encodeURIComponent(volume)}/files/${encodePath(path)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) },
      body,
      duplex: 'half',
    });
    const answer = z
      .object({ size: z.number().optional(), sha256: z.string().optional() })
      .loose()
      .safeParse(data ?? {});
    const sha256 = hash.digest('hex');
    const reported = answer.success ? answer.data : {};
    // Checked here rather than trusted: a proxy that cut the body short would otherwise import a
    // truncated file without a word.
    if (
      (reported.size !== undefined && reported.size !== size) ||
      (reported.sha256 !== undefined && reported.sha256 !== sha256)
    ) {
      throw new CliError(
        CliErrorCode.Api,
        `upload of ${file} stored ${reported.size ?? '?'} bytes (sha256 ${reported.sha256 ?? '?'}), ` +
          `expected ${size} (sha256 ${sha256}); it was not imported`,
      );
    }
    return { size, sha256 };
  }

  private async send(path: string, init: RequestInit): Promise<unknown> {
    const headers = new Headers(init.headers);
    if (this.key !== undefined) headers.set('Authorization', `Bearer ${this.key}`);
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { ...init, headers });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new CliError(
        CliErrorCode.Unreachable,
        `cannot reach the gateway at ${this.baseUrl}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
        { cause: e },
      );
    }
    const text = await res.text();
    let parsed: z.infer<typeof envelope>;
    try {
      parsed = envelope.parse(JSON.parse(text));
    } catch {
      throw new CliError(
        CliErrorCode.Unreachable,
        `${this.baseUrl}${path} answered HTTP ${res.status} with something that is not the gateway's JSON envelope` +
          ` (is --url / IMPORT_GATEWAY_URL right?): ${text.slice(0, 200)}`,
      );
    }
    if (parsed.code === 0 || parsed.code === 200) return parsed.data;
    const message = `${parsed.message ?? 'error'} (code ${parsed.code})`;
    if (res.status === 401 || res.status === 403 || AUTH_CODES.has(parsed.code)) {
      const hint = this.key === undefined ? '; pass --key or set IMPORT_GATEWAY_KEY' : '';
      throw new CliError(CliErrorCode.Auth, `${message}${hint}`, { details: { code: parsed.code } });
    }
    throw new CliError(CliErrorCode.Api, message, { details: { code: parsed.code } });
  }
}

/** A volume path as URL segments: each segment encoded, the slashes kept. */
export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
