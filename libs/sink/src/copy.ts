import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdent } from '@gw/pg';
import type { RowBatch } from '@gw/schema';
import { ChunkWriter } from './chunk-writer';
import { toSinkError } from './errors-map';
import { COPY_HEADER, COPY_TRAILER, DEFAULT_CHUNK_BYTES, type CopyLayout } from './layout';
import { SinkError, SinkErrorCode, type SinkErrorLocation } from './sink.errors';

/** A table by its PostgreSQL schema name (e.g. `milvus_default`, see pgSchemaName) and table name. */
export interface TableName {
  readonly schema: string;
  readonly name: string;
}

export interface CopyOptions {
  /** Aborting cancels the COPY (CopyFail) and rejects with SinkError(Aborted). */
  readonly signal?: AbortSignal;
  /** Called after each batch has been written to the COPY stream (not yet committed). */
  readonly onBatch?: (rows: number) => void | Promise<void>;
  /** Size of the chunks written to the stream; 1 MiB by default. */
  readonly chunkBytes?: number;
}

export const qualifiedName = (t: TableName): string => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** The COPY statement copyBatches runs. */
export const copySql = (table: TableName, layout: CopyLayout): string =>
  `COPY ${qualifiedName(table)} (${layout.columnList}) FROM STDIN (FORMAT binary)`;

/** How long to wait for the server to acknowledge a cancelled COPY before giving up on it. */
const CANCEL_WAIT_MS = 30_000;

function abortedError(signal: AbortSignal): SinkError {
  return new SinkError(SinkErrorCode.Aborted, 'COPY aborted', { cause: signal.reason });
}

/**
 * Streams the batches into `table` with one binary COPY on the caller's client, inside the caller's
 * transaction (BEGIN/COMMIT are the caller's; this never commits). Encoding runs batch by batch
 * into ~1 MiB chunks and waits for 'drain', so memory stays bounded whatever the input size.
 *
 * On any failure the COPY is cancelled (CopyFail) and awaited, so the caller's transaction is
 * left failed and ROLLBACK works at once. PostgreSQL and connection errors reject as SinkError
 * (retryable for connection-class ones); an abort rejects as SinkError(Aborted); errors thrown by
 * the batch source or onBatch are rethrown as they are.
 */
export async function copyBatches(
  client: PoolClient,
  table: TableName,
  layout: CopyLayout,
  batches: AsyncIterable<RowBatch>,
  opts: CopyOptions = {},
): Promise<{ rows: number }> {
  const { signal, onBatch } = opts;
  if (signal?.aborted) throw abortedError(signal);
  const stream = client.query(copyFrom(copySql(table, layout)));
  let streamError: Error | undefined = undefined;
  let cancelling = false;
  stream.on('error', (e: Error) => {
    // While cancelling, the error is PostgreSQL's answer to our CopyFail, not the cause.
    if (streamError !== undefined || cancelling) return;
    streamError = e;
    neuter(stream);
  });
  // A function, so TypeScript does not narrow away what the 'error' listener assigns.
  const throwIfFailed = (): void => {
    if (streamError !== undefined) throw streamError;
  };

  // COPY line numbers (1-based tuples) → file and row, for error messages.
  const marks: { line: number; file: string; firstRow: number }[] = [];
  let line = 1;
  const locate = (l: number): SinkErrorLocation | undefined => {
    for (let k = marks.length - 1; k >= 0; k--) {
      const m = marks[k]!;
      if (m.line <= l) return { file: m.file, row: m.firstRow + (l - m.line) };
    }
    return undefined;
  };

  const write = async (chunk: Buffer): Promise<void> => {
    throwIfFailed();
    if (!stream.write(chunk)) await once(stream, 'drain', signal ? { signal } : {});
  };

  let abortWaiter: Promise<never> | undefined;
  let onAbort: (() => void) | undefined;
  if (signal) {
    abortWaiter = new Promise<never>((_, reject) => {
      onAbort = () => reject(abortedError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    abortWaiter.catch(() => undefined);
  }

  const it = batches[Symbol.asyncIterator]();
  let sourceBusy = false; // a next() is pending (an abort won the race)
  let phase: 'sink' | 'source' = 'sink';
  const w = new ChunkWriter(opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  let rows = 0;
  try {
    w.bytes(COPY_HEADER);
    for (;;) {
      phase = 'source';
      sourceBusy = true;
      const next = it.next();
      const r = abortWaiter ? await Promise.race([next, abortWaiter]) : await next;
      sourceBusy = false;
      if (r.done === true) break;
      phase = 'sink';
      const batch = r.value;
      layout.checkBatch(batch);
      marks.push({ line, file: batch.file, firstRow: batch.firstRow });
      line += batch.rowCount;
      for (const chunk of layout.encodeRows(batch, w)) {
        await write(chunk);
        if (signal?.aborted) throw abortedError(signal);
      }
      // The batch's tail too, so onBatch means "in the stream" and errors surface batch by batch.
      for (const chunk of w.takeAll()) await write(chunk);
      throwIfFailed();
      rows += batch.rowCount;
      if (onBatch) {
        phase = 'source';
        await onBatch(batch.rowCount);
        phase = 'sink';
      }
      if (signal?.aborted) throw abortedError(signal);
    }
    w.bytes(COPY_TRAILER);
    for (const chunk of w.takeAll()) await write(chunk);
    throwIfFailed();
    stream.end();
    await once(stream, 'finish', signal ? { signal } : {});
    return { rows: stream.rowCount > 0 || rows === 0 ? stream.rowCount : rows };
  } catch (e) {
    // After a server or connection error PostgreSQL has already ended the COPY: nothing to cancel.
    if (streamError === undefined) {
      cancelling = true;
      await cancelCopy(stream);
    }
    if (!sourceBusy) await it.return?.().catch(() => undefined);
    else void it.return?.().catch(() => undefined);
    if (signal?.aborted) throw abortedError(signal);
    if (phase === 'source' && streamError === undefined) throw e;
    throw toSinkError(streamError ?? e, { layout, locate });
  } finally {
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
  }
}

interface CopyStreamInternals {
  chunks: unknown[];
  _destroy: (err: Error | null, cb: (e?: Error | null) => void) => void;
}

/**
 * Once pg has failed the COPY query (ErrorResponse or a dead connection) pg-copy-streams has
 * dropped its connection, yet queued chunks would still be flushed to it on the next socket
 * 'drain' and its _destroy would send CopyFail to it, both throwing TypeError outside any
 * caller. Empty the queue and destroy without the CopyFail: the server has ended the COPY.
 */
function neuter(stream: ReturnType<typeof copyFrom>): void {
  const s = stream as unknown as CopyStreamInternals;
  s.chunks = [];
  s._destroy = (err, cb) => {
    cb(err);
  };
  if (!stream.destroyed) stream.destroy();
}

/** Sends CopyFail (via destroy) and waits until the server has answered, so the client is usable. */
async function cancelCopy(stream: ReturnType<typeof copyFrom>): Promise<void> {
  if (!stream.destroyed) stream.destroy(new Error('COPY cancelled by the import gateway'));
  if (stream.closed) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, CANCEL_WAIT_MS);
    timer.unref();
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
