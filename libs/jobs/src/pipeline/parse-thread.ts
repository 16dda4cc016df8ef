import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { byteInputFromBuffer, openFileGroup, type ByteInput, type RejectedRow } from '@gw/formats';
import { buildCopyLayout, encodeBatches, releaseChunkParts } from '@gw/sink';
import type { RowBatch } from '@gw/schema';
import {
  rebuildError,
  serializeError,
  type FromThread,
  type ParseThreadData,
  type ReadRequest,
  type TaskInput,
  type TaskSpec,
  type ToThread,
} from './protocol';

/**
 * Parse thread entry (compiled to dist/…/parse-thread.js, see parse-pool.ts): runs the ordinary
 * reader of a format over one piece, validates, encodes to binary COPY tuples and posts them back
 * in ~4 MiB chunks, each one transferred ArrayBuffer (reused once the COPY has sent it). One task
 * at a time; the pool serialises them.
 */
const port = parentPort;
if (port === null) throw new Error('parse-thread.js is a worker_threads entry');

const recyclePort = (workerData as ParseThreadData).recycle;

const post = (m: FromThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

let nextReq = 1;
const pendingReads = new Map<number, { resolve: (b: Uint8Array | null) => void; reject: (e: Error) => void }>();

function requestRead(task: number, request: ReadRequest): Promise<Uint8Array | null> {
  const req = nextReq++;
  return new Promise((resolve, reject) => {
    pendingReads.set(req, { resolve, reject });
    post({ t: 'read', task, req, request });
  });
}

let nextStream = 1;

/**
 * Chunk buffers the main thread sent back once the COPY sent them. A chunk is copied into one of
 * these rather than a new ArrayBuffer, so neither thread piles up dead chunk buffers awaiting GC.
 */
const spare: ArrayBuffer[] = [];
/** Spare buffers kept at most: the COPY queue holds a few chunks, so a few come back at a time. */
const SPARE_KEEP = 3;
/** Chunk buffers are allocated in whole MiB so chunks of slightly different sizes reuse them. */
const SPARE_UNIT = 2 ** 20;

/**
 * The buffers the main thread sent back, taken now: a thread busy decoding does not turn its event
 * loop between chunks, so a listener would see them only after new buffers were allocated.
 */
function takeReturned(): void {
  for (let m = receiveMessageOnPort(recyclePort); m !== undefined; m = receiveMessageOnPort(recyclePort))
    keepSpare(m.message as ArrayBuffer);
}

/** An exclusive buffer of at least n bytes: a spare one if it fits without much waste, else new. */
function chunkBuffer(n: number): ArrayBuffer {
  takeReturned();
  let best = -1;
  for (let i = 0; i < spare.length; i++) {
    const len = spare[i]!.byteLength;
    if (len >= n && len <= 2 * n + SPARE_UNIT && (best < 0 || len < spare[best]!.byteLength)) best = i;
  }
  if (best >= 0) return spare.splice(best, 1)[0]!;
  return new ArrayBuffer(Math.ceil(n / SPARE_UNIT) * SPARE_UNIT);
}

function keepSpare(b: ArrayBuffer): void {
  if (spare.length >= SPARE_KEEP) spare.shift();
  spare.push(b);
}

/** A ByteInput whose bytes live in the main thread (Parquet, NumPy, unsplittable text). */
function remoteInput(task: number, inp: Extract<TaskInput, { kind: 'remote' }>): ByteInput {
  const from = inp.from ?? 0;
  const prefix = inp.prefix ?? new Uint8Array(0);
  const whole = from === 0 && prefix.length === 0;
  return {
    name: inp.name,
    byteLength: prefix.length + inp.byteLength - from,
    async slice(start, end) {
      // Only whole files are read by range (Parquet, NumPy); text tails are streamed.
      if (!whole) throw new Error('ranged read of a text piece');
      const b = await requestRead(task, { kind: 'slice', input: inp.index, start, end: end ?? inp.byteLength });
      return b ?? new Uint8Array(0);
    },
    async *stream(at = 0) {
      if (at !== 0 && !whole) throw new Error('stream of a text piece from an offset');
      if (prefix.length > 0) yield prefix;
      const sid = nextStream++;
      for (;;) {
        const b = await requestRead(task, { kind: 'stream', input: inp.index, sid, from: from + at });
        if (b === null) return;
        yield b;
      }
    },
  };
}

async function run(spec: TaskSpec): Promise<void> {
  const inputs = spec.inputs.map((i) =>
    // As a Buffer: the readers take Buffer fast paths (latin1/utf8 slices) on what they are given.
    i.kind === 'bytes'
      ? byteInputFromBuffer(i.name, Buffer.from(i.bytes.buffer, i.bytes.byteOffset, i.bytes.length))
      : remoteInput(spec.id, i),
  );
  const readOptions = spec.keepGoing
    ? {
        ...spec.readOptions,
        onRejectedRow: (r: RejectedRow) =>
          post({ t: 'reject', task: spec.id, row: { ...r, row: r.row + spec.shift.row } }),
      }
    : spec.readOptions;
  const reader = openFileGroup(spec.format, inputs, spec.schema, readOptions);
  const layout = buildCopyLayout(spec.layout);
  const known = await reader.totalRows();
  if (known !== null) post({ t: 'known-rows', task: spec.id, rows: known });
  const shifted = async function* (): AsyncGenerator<RowBatch> {
    for await (const batch of reader.batches()) yield { ...batch, firstRow: batch.firstRow + spec.shift.row };
  };
  // ~4 MiB chunks, as on the main thread: a whole batch per message (10 MB for 20,000 128-d rows)
  // doubled what the thread held, once encoded and once copied for transfer.
  for await (const c of encodeBatches(layout, shifted(), spec.chunkBytes)) {
    // One exclusive buffer per chunk (the writer's buffers are reused, so they cannot be
    // transferred); the writer gets its own back at once.
    const bytes = new Uint8Array(chunkBuffer(c.byteLength), 0, c.byteLength);
    let at = 0;
    for (const p of c.parts) {
      bytes.set(p, at);
      at += p.length;
    }
    releaseChunkParts(c.parts);
    post({ t: 'chunk', task: spec.id, bytes, file: c.file, firstRow: c.firstRow, rowCount: c.rowCount }, [
      bytes.buffer,
    ]);
  }
}

port.on('message', (m: ToThread) => {
  switch (m.t) {
    case 'task':
      run(m.spec).then(
        () => post({ t: 'done', task: m.spec.id }),
        (e: unknown) => post({ t: 'error', task: m.spec.id, err: serializeError(e, m.spec.shift) }),
      );
      break;
    case 'read': {
      const p = pendingReads.get(m.req);
      pendingReads.delete(m.req);
      p?.resolve(m.bytes);
      break;
    }
    case 'read-error': {
      const p = pendingReads.get(m.req);
      pendingReads.delete(m.req);
      p?.reject(rebuildError(m.err));
      break;
    }
  }
});
