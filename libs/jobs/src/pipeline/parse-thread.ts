import { parentPort } from 'node:worker_threads';
import { byteInputFromBuffer, openFileGroup, type ByteInput, type RejectedRow } from '@gw/formats';
import { buildCopyLayout, ChunkWriter, encodeBatch } from '@gw/sink';
import {
  rebuildError,
  serializeError,
  type FromThread,
  type ReadRequest,
  type TaskInput,
  type TaskSpec,
  type ToThread,
} from './protocol';

/**
 * Parse thread entry (compiled to dist/…/parse-thread.js, see parse-pool.ts): runs the ordinary
 * reader of a format over one piece, validates, encodes to binary COPY tuples and posts each
 * batch back as one transferred ArrayBuffer. One task at a time; the pool serialises them.
 */
const port = parentPort;
if (port === null) throw new Error('parse-thread.js is a worker_threads entry');

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
  const w = new ChunkWriter(spec.chunkBytes);
  for await (const batch of reader.batches()) {
    const c = encodeBatch(layout, { ...batch, firstRow: batch.firstRow + spec.shift.row }, w);
    // One exclusive ArrayBuffer per batch: the writer's buffers are reused, so they cannot be transferred.
    const bytes = new Uint8Array(c.byteLength);
    let at = 0;
    for (const p of c.parts) {
      bytes.set(p, at);
      at += p.length;
    }
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
