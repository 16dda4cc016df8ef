import type { PoolClient } from 'pg';
import { openFileGroup, type ByteInput, type FileFormat, type ReadOptions } from '@gw/formats';
import type { CollectionSchema } from '@gw/schema';
import {
  buildCopyLayout,
  copyEncoded,
  DEFAULT_CHUNK_BYTES,
  encodeBatches,
  type CopyLayout,
  type EncodedChunk,
  type LayoutInput,
  type TableName,
} from '@gw/sink';
import { ChunkQueue } from './chunk-queue';
import type { ParsePool } from './parse-pool';
import { planPieces, type Piece } from './pieces';
import type { ReadRequest } from './protocol';

/** One file group to read: a format over its inputs (one file, or a NumPy group's files). */
export interface StageUnit {
  readonly format: FileFormat;
  readonly inputs: readonly ByteInput[];
  readonly schema: CollectionSchema;
  readonly readOptions: ReadOptions;
}

export interface StageGroupInput extends StageUnit {
  /** buildCopyLayout's input: fields, storage, dynamic field, extra constant columns. */
  readonly layout: LayoutInput;
}

export interface StageGroupOptions {
  readonly signal: AbortSignal;
  /** Parse threads, or null to read, parse and encode on this thread (still overlapped with COPY). */
  readonly parseThreads: ParsePool | null;
  /** Bound of the encoded chunks waiting for the socket; 8 MiB by default (enough to ride out jitter; more only costs RSS). */
  readonly maxQueuedBytes?: number;
  /** Size of the text pieces handed to a thread; 4 MiB by default. */
  readonly pieceBytes?: number;
  /** Rows written to the COPY stream (not yet committed), as they go; awaited, so it may apply backpressure. */
  readonly onRows?: (rows: number) => void | Promise<void>;
  /** A unit's row count, when its format knows it up front (Parquet, NumPy); once per such unit. */
  readonly onKnownRows?: (rows: number) => void;
}

export const DEFAULT_MAX_QUEUED_BYTES = 8 << 20;
export const DEFAULT_PIECE_BYTES = 4 << 20;

/**
 * Streams one file group's rows into `table` with one binary COPY on the caller's client, inside
 * the caller's transaction (never commits). Reading, parsing, validating and encoding run ahead
 * of the socket into a queue bounded by bytes, so PostgreSQL does not wait for parsing and
 * parsing does not wait for the socket unless the queue is full. With parse threads, pieces of
 * the group are parsed in parallel and written in file order.
 *
 * Errors as copyEncoded: reader errors (FormatError, also from a thread) reject as they are, with
 * the file's row numbers; PostgreSQL errors as SinkError naming file and row; abort as
 * SinkError(Aborted) after CopyFail, leaving the transaction ready for ROLLBACK.
 */
export async function stageGroup(
  client: PoolClient,
  table: TableName,
  group: StageGroupInput,
  opts: StageGroupOptions,
): Promise<{ rows: number; maxQueuedBytes: number }> {
  return stageUnits(client, table, group.layout, [group], opts);
}

/**
 * stageGroup over several units in one COPY, read one after the other in the given order (e.g. a
 * job's group that is a folder of files). Units are pulled lazily: an async generator may open a
 * unit's inputs before yielding it and release them after (its code after `yield` runs once the
 * unit has been read to its end or the staging stopped).
 */
export async function stageUnits(
  client: PoolClient,
  table: TableName,
  layoutInput: LayoutInput,
  units: AsyncIterable<StageUnit> | Iterable<StageUnit>,
  opts: StageGroupOptions,
): Promise<{ rows: number; maxQueuedBytes: number }> {
  const layout = buildCopyLayout(layoutInput);
  const queue = new ChunkQueue(opts.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES);
  const stop = new AbortController();
  const pool = opts.parseThreads;
  const produce = async (): Promise<void> => {
    for await (const unit of units) {
      if (stop.signal.aborted) return;
      if (pool) await producePooled(unit, layoutInput, pool, queue, stop.signal, opts);
      else await produceHere(unit, layout, queue, opts);
    }
  };
  const producer = produce().then(
    () => queue.end(),
    (e: unknown) => queue.fail(e),
  );
  try {
    const { rows } = await copyEncoded(client, table, layout, queue, {
      signal: opts.signal,
      ...(opts.onRows ? { onChunk: (c: EncodedChunk) => opts.onRows?.(c.rowCount) } : {}),
    });
    return { rows, maxQueuedBytes: queue.maxObservedBytes };
  } finally {
    // Not awaited: after a failure or abort the producer may sit in a slow read; it stops at its
    // next push (the queue is closed) and its pieces are cancelled now. On success it has ended.
    stop.abort();
    queue.close();
    void producer;
  }
}

/** The serial reader on this thread, feeding the queue. */
async function produceHere(
  group: StageUnit,
  layout: CopyLayout,
  queue: ChunkQueue,
  opts: StageGroupOptions,
): Promise<void> {
  const reader = openFileGroup(group.format, group.inputs, group.schema, group.readOptions);
  const known = await reader.totalRows();
  if (known !== null) opts.onKnownRows?.(known);
  for await (const chunk of encodeBatches(layout, reader.batches(), DEFAULT_CHUNK_BYTES)) {
    if (queue.isClosed) return;
    await queue.push(chunk);
  }
}

interface PieceRun {
  readonly chunks: EncodedChunk[];
  buffered: number;
  finished: boolean;
  error: { e: unknown } | null;
  readonly bytes: number;
  cancel(): void;
}

/**
 * Pieces go to the pool as they are cut (at most 2 per thread + 1 and maxQueuedBytes of input in
 * flight); their chunks are forwarded to the queue strictly in piece order, so rows reach COPY in
 * file order and the first error in the file is the one reported.
 */
async function producePooled(
  group: StageUnit,
  layoutInput: LayoutInput,
  pool: ParsePool,
  queue: ChunkQueue,
  stop: AbortSignal,
  opts: StageGroupOptions,
): Promise<void> {
  const { onRejectedRow, ...readOptions } = group.readOptions;
  const maxRuns = pool.threads * 2 + 1;
  const maxInflight = queue.maxBytes;
  const runs: PieceRun[] = [];
  const changed = queue.changed;
  let inflight = 0;
  let planned = false;
  const wake = (): void => changed.notify();
  stop.addEventListener('abort', wake, { once: true });

  const start = (piece: Piece): PieceRun => {
    const streams = new Map<number, AsyncIterator<Uint8Array>>();
    const run: PieceRun = {
      chunks: [],
      buffered: 0,
      finished: false,
      error: null,
      bytes: piece.bytes,
      cancel: () => {},
    };
    const onRead = async (r: ReadRequest): Promise<Uint8Array | null> => {
      // A remote piece reads only while its output can be taken: memory stays bounded by bytes.
      while (!stop.aborted && queue.bytes + run.buffered >= queue.maxBytes) await changed.wait();
      if (stop.aborted) throw new Error('staging stopped');
      const input = group.inputs[r.input]!;
      if (r.kind === 'slice') return input.slice(r.start, r.end);
      let it = streams.get(r.sid);
      if (it === undefined) {
        it = input.stream(r.from)[Symbol.asyncIterator]();
        streams.set(r.sid, it);
      }
      const next = await it.next();
      if (next.done === true) {
        streams.delete(r.sid);
        return null;
      }
      return next.value;
    };
    const task = pool.run(
      {
        format: group.format,
        schema: group.schema,
        readOptions,
        keepGoing: onRejectedRow !== undefined,
        layout: layoutInput,
        inputs: piece.inputs,
        shift: piece.shift,
        chunkBytes: DEFAULT_CHUNK_BYTES,
      },
      {
        onChunk(bytes, file, firstRow, rowCount) {
          run.chunks.push({ parts: [bytes], byteLength: bytes.length, file, firstRow, rowCount });
          run.buffered += bytes.length;
          wake();
        },
        // A piece's own count is not the group's: only a whole group read in one piece reports it.
        onKnownRows: (n) => {
          if (piece.bytes === 0 && piece.shift.row === 0) opts.onKnownRows?.(n);
        },
        ...(onRejectedRow === undefined ? {} : { onRejectedRow }),
        onRead,
      },
    );
    run.cancel = task.cancel;
    const settle = (error: { e: unknown } | null): void => {
      run.finished = true;
      run.error = error;
      for (const it of streams.values()) void it.return?.();
      streams.clear();
      wake();
    };
    task.done.then(
      () => settle(null),
      (e: unknown) => settle({ e }),
    );
    return run;
  };

  const filler = (async () => {
    const pieces = planPieces(group.format, group.inputs, opts.pieceBytes ?? DEFAULT_PIECE_BYTES);
    try {
      for await (const piece of pieces) {
        if (stop.aborted) return;
        if (piece.groupRows !== undefined) opts.onKnownRows?.(piece.groupRows);
        runs.push(start(piece));
        inflight += piece.bytes;
        wake();
        while (!stop.aborted && (runs.length >= maxRuns || inflight >= maxInflight)) await changed.wait();
        if (stop.aborted) return;
      }
    } catch (e) {
      // A read error of the main thread's input comes after every piece cut before it.
      runs.push({ chunks: [], buffered: 0, finished: true, error: { e }, bytes: 0, cancel: () => {} });
    } finally {
      planned = true;
      if (stop.aborted) for (const r of runs) r.cancel();
      wake();
    }
  })();

  try {
    for (;;) {
      if (stop.aborted) return;
      const head = runs[0];
      if (head === undefined) {
        if (planned) return;
        await changed.wait();
        continue;
      }
      const c = head.chunks.shift();
      if (c !== undefined) {
        head.buffered -= c.byteLength;
        await queue.push(c);
        continue;
      }
      if (!head.finished) {
        await changed.wait();
        continue;
      }
      if (head.error !== null) throw head.error.e;
      runs.shift();
      inflight -= head.bytes;
      wake();
    }
  } finally {
    // Pieces still queued are dropped; running ones finish in their threads, output ignored.
    for (const r of runs) r.cancel();
    stop.removeEventListener('abort', wake);
    void filler;
  }
}
