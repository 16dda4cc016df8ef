import { once } from 'node:events';
import type { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdent } from '@gw/pg';
import type { RowBatch } from '@gw/schema';
import { ChunkWriter, releaseChunkParts } from './chunk-writer';
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
 * Rows already encoded as binary COPY tuples: `parts` hold exactly `rowCount` whole tuples (no
 * header or trailer), rows `firstRow…` of `file`. The unit copyEncoded writes, and what parse
 * threads hand back.
 */
export interface EncodedChunk {
  readonly parts: readonly Uint8Array[];
  readonly byteLength: number;
  readonly file: string;
  /** 1-based row of the file group of the first tuple (RowBatch.firstRow numbering). */
  readonly firstRow: number;
  readonly rowCount: number;
  /** False when more rows of the same batch follow in the next chunk (encodeBatches splits batches). */
  readonly endsBatch?: boolean;
}

export interface CopyEncodedOptions {
  /** Aborting cancels the COPY (CopyFail) and rejects with SinkError(Aborted). */
  readonly signal?: AbortSignal;
  /** Called after each chunk has been written to the COPY stream (not yet committed). */
  readonly onChunk?: (chunk: EncodedChunk) => void | Promise<void>;
}

/**
 * Encoded bytes an EncodedChunk of encodeBatches holds, about: the COPY queue, the writer and the
 * producer each hold one or two, so this bounds what a COPY keeps in flight. A whole batch per chunk
 * (up to IMPORT_BATCH_BYTES of encoded rows) put ~100 MB in flight for 128-d vectors.
 */
const ENCODED_CHUNK_TARGET = 4 << 20;
/** Rows of a run's first chunk, before bytes per row are known: small, so the first rows go early. */
const FIRST_CHUNK_ROWS = 64;

/**
 * Encodes batches into EncodedChunks of about ENCODED_CHUNK_TARGET bytes (a batch is split into
 * row ranges; rows per chunk follow the bytes per row seen so far), checking each batch against
 * the layout. Errors of the batch source and of encoding (SinkError LayoutMismatch /
 * ValueOutOfRange) propagate as they are.
 */
export async function* encodeBatches(
  layout: CopyLayout,
  batches: AsyncIterable<RowBatch>,
  chunkBytes: number = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<EncodedChunk, void, undefined> {
  // Recycling: copyEncoded hands the parts back once sent (a consumer that does not only costs GC).
  const w = new ChunkWriter(chunkBytes, { recycle: true });
  let rowsPerChunk = FIRST_CHUNK_ROWS;
  for await (const batch of batches) {
    layout.checkBatch(batch);
    const n = batch.rowCount;
    if (n === 0) yield encodeRange(layout, batch, w, 0, 0);
    for (let from = 0; from < n;) {
      const to = Math.min(n, from + rowsPerChunk);
      const chunk = encodeRange(layout, batch, w, from, to);
      rowsPerChunk = Math.max(1, Math.floor((ENCODED_CHUNK_TARGET * (to - from)) / Math.max(1, chunk.byteLength)));
      from = to;
      yield chunk;
    }
  }
}

/** One batch as an EncodedChunk, written through w (whose unused tail is kept for the next batch). */
export function encodeBatch(layout: CopyLayout, batch: RowBatch, w: ChunkWriter): EncodedChunk {
  layout.checkBatch(batch);
  return encodeRange(layout, batch, w, 0, batch.rowCount);
}

/** Rows [from, to) of a checked batch as an EncodedChunk. */
function encodeRange(layout: CopyLayout, batch: RowBatch, w: ChunkWriter, from: number, to: number): EncodedChunk {
  const parts: Uint8Array[] = [...layout.encodeRows(batch, w, from, to), ...w.takeAll()];
  let byteLength = 0;
  for (const p of parts) byteLength += p.length;
  return {
    parts,
    byteLength,
    file: batch.file,
    firstRow: batch.firstRow + from,
    rowCount: to - from,
    ...(to < batch.rowCount ? { endsBatch: false } : {}),
  };
}

/**
 * Streams the batches into `table` with one binary COPY on the caller's client, inside the caller's
 * transaction (BEGIN/COMMIT are the caller's; this never commits). Encoding runs batch by batch
 * into ~1 MiB chunks and waits for 'drain', so memory stays bounded whatever the input size.
 * Same guarantees as copyEncoded, which it runs.
 */
export async function copyBatches(
  client: PoolClient,
  table: TableName,
  layout: CopyLayout,
  batches: AsyncIterable<RowBatch>,
  opts: CopyOptions = {},
): Promise<{ rows: number }> {
  const { onBatch } = opts;
  let batchRows = 0; // rows of the current batch written so far (its chunks come in order)
  const onChunk = (c: EncodedChunk): void | Promise<void> => {
    batchRows += c.rowCount;
    if (c.endsBatch === false) return;
    const rows = batchRows;
    batchRows = 0;
    return onBatch?.(rows);
  };
  return copyEncoded(client, table, layout, encodeBatches(layout, batches, opts.chunkBytes), {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(onBatch ? { onChunk } : {}),
  });
}

/**
 * Writes encoded chunks into `table` with one binary COPY on the caller's client, inside the
 * caller's transaction (this never commits), waiting for 'drain' after each part.
 *
 * On any failure the COPY is cancelled (CopyFail) and awaited, so the caller's transaction is
 * left failed and ROLLBACK works at once. PostgreSQL and connection errors reject as SinkError
 * (retryable for connection-class ones) naming the file and row of the failing COPY line; an
 * abort rejects as SinkError(Aborted); errors thrown by the chunk source or onChunk are rethrown
 * as they are.
 */
export async function copyEncoded(
  client: PoolClient,
  table: TableName,
  layout: CopyLayout,
  chunks: AsyncIterable<EncodedChunk>,
  opts: CopyEncodedOptions = {},
): Promise<{ rows: number }> {
  const { signal, onChunk } = opts;
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

  // Parts written but perhaps not yet sent: handed back to their writer (releaseChunkParts) once
  // both the COPY stream and the socket under it hold no unsent bytes, and after a successful end.
  const unsent: Uint8Array[] = [];
  const internals = stream as unknown as CopyStreamInternals;
  const write = async (chunk: Uint8Array): Promise<void> => {
    throwIfFailed();
    if (!stream.write(chunk)) await once(stream, 'drain', signal ? { signal } : {});
    unsent.push(chunk);
    const socket = internals.connection?.stream;
    if (stream.writableLength === 0 && socket !== undefined && socket.writableLength === 0) {
      releaseChunkParts(unsent);
      unsent.length = 0;
    }
  };

  const it = chunks[Symbol.asyncIterator]();
  let sourceBusy = false; // a next() is pending (an abort won the race)
  let phase: 'sink' | 'source' = 'sink';
  let rows = 0;
  try {
    await write(COPY_HEADER);
    for (;;) {
      phase = 'source';
      sourceBusy = true;
      const next = it.next();
      const r = await untilAborted(next, signal);
      sourceBusy = false;
      if (r.done === true) break;
      phase = 'sink';
      const chunk = r.value;
      if (chunk.rowCount > 0) marks.push({ line, file: chunk.file, firstRow: chunk.firstRow });
      line += chunk.rowCount;
      for (const part of chunk.parts) {
        await write(part);
        if (signal?.aborted) throw abortedError(signal);
      }
      throwIfFailed();
      rows += chunk.rowCount;
      if (onChunk) {
        phase = 'source';
        await onChunk(chunk);
        phase = 'sink';
      }
      if (signal?.aborted) throw abortedError(signal);
    }
    await write(COPY_TRAILER);
    throwIfFailed();
    stream.end();
    await once(stream, 'finish', signal ? { signal } : {});
    // 'finish' follows the server's ReadyForQuery: every byte was sent and read.
    releaseChunkParts(unsent);
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
  }
}

/**
 * `p`, or a rejection as soon as `signal` aborts. The listener goes when `p` settles: racing every
 * next() against one long-lived abort promise (Promise.race) left a reaction on it per chunk that
 * kept the chunk, and so every batch of a file group, alive until the COPY ended.
 */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(abortedError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

interface CopyStreamInternals {
  chunks: unknown[];
  /** pg's connection, set when pg submits the query (before the first write). */
  connection?: { stream?: { writableLength: number } } | null;
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
