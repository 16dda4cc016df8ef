import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { FormatError, FormatErrorCode, type RejectedRow } from '@gw/formats';
import { returnOnRelease } from '@gw/sink';
import {
  rebuildError,
  serializeError,
  NO_SHIFT,
  type FromThread,
  type ReadRequest,
  type TaskSpec,
  type ParseThreadData,
  type ToThread,
} from './protocol';

/** What a task reports while it runs. */
export interface TaskHandlers {
  onChunk(bytes: Uint8Array, file: string, firstRow: number, rowCount: number): void;
  onKnownRows(rows: number): void;
  /** A row skipped under the task's keepGoing, in file coordinates. */
  onRejectedRow?(row: RejectedRow): void;
  /** Serves a read of a remote input; resolves null at the end of a stream. */
  onRead(request: ReadRequest): Promise<Uint8Array | null>;
}

interface Slot {
  readonly worker: Worker;
  readonly tasks: Map<number, Running>;
  /** Where sent chunks' buffers go back to the thread (read synchronously there, see parse-thread). */
  readonly recycle: MessagePort;
}

/** A task that streams a whole file through the main thread (Parquet, NumPy fallback, text tails). */
const isLong = (t: Running): boolean => t.spec.inputs.some((i) => i.kind === 'remote');

/**
 * A busy thread takes a second task only when the one it runs is long: long tasks wait on reads
 * from the main thread, and a Parquet file of one job must not hold a thread for minutes while
 * other jobs' pieces queue behind it. Two pieces in memory never share a thread.
 */
const canTake = (s: Slot): boolean => s.tasks.size === 0 || (s.tasks.size < 2 && [...s.tasks.values()].every(isLong));

interface Running {
  readonly spec: TaskSpec;
  readonly handlers: TaskHandlers;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  /** The main thread's own error behind a failed remote read, rethrown as it is. */
  readFailure?: unknown;
  cancelled: boolean;
}

/**
 * Where the compiled thread entry is. Compiled code (dist/, `npm start`) finds parse-thread.js next
 * to this file. Running from TypeScript sources (vitest, which transforms .ts in-process) a worker
 * thread cannot load .ts, so the pool uses the compiled twin of this folder under <repo>/dist,
 * which `npm run build` writes (vitest's global setup runs it).
 */
export function parseThreadEntry(): string {
  const here = join(__dirname, 'parse-thread.js');
  if (existsSync(here)) return here;
  let root = __dirname;
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const built = join(root, 'dist', relative(root, __dirname), 'parse-thread.js');
  if (existsSync(built)) return built;
  throw new Error(`parse thread entry not found: run \`npm run build\` (looked for ${here} and ${built})`);
}

/** Heap limits of a parse thread: pieces are 4 MiB of text; a thread holds a few batches of them. */
const THREAD_HEAP_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 };

/**
 * Why a task's thread died. A thread past its heap limit is ended by V8 and only its tasks fail
 * (the process lives on): that is a file needing more than the limit, so the job fails naming it
 * rather than retrying into the same wall.
 */
function threadFailure(e: unknown, spec: TaskSpec): Error {
  if ((e as { code?: string } | null)?.code === 'ERR_WORKER_OUT_OF_MEMORY')
    return new FormatError(
      FormatErrorCode.TooLarge,
      { file: spec.inputs.map((i) => i.name).join(', ') },
      `reading it took more than a parse thread's ${THREAD_HEAP_LIMITS.maxOldGenerationSizeMb} MB heap`,
    );
  return e instanceof Error ? e : new Error(`parse thread stopped: ${String(e)}`);
}

/**
 * Worker threads that parse, validate and encode pieces of files (see stageGroup). Shared by all
 * jobs of a worker process: tasks queue FIFO for the next free thread, one task per thread at a
 * time. Threads start on first use and live until close().
 */
export class ParsePool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Running[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    readonly threads: number,
    private readonly entry: string = parseThreadEntry(),
  ) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new Error(`ParsePool needs at least one thread, got ${threads}`);
  }

  /** Runs one task; resolves when the thread has posted all its chunks, rejects with its error rebuilt. */
  run(spec: Omit<TaskSpec, 'id'>, handlers: TaskHandlers): { done: Promise<void>; cancel: () => void } {
    if (this.closed) throw new Error('parse pool is closed');
    let running!: Running;
    const done = new Promise<void>((resolve, reject) => {
      running = { spec: { ...spec, id: this.nextId++ }, handlers, resolve, reject, cancelled: false };
    });
    this.waiting.push(running);
    this.pump();
    return {
      done,
      cancel: () => {
        // A queued task is dropped; a running one finishes in its thread, its output ignored.
        running.cancelled = true;
        const at = this.waiting.indexOf(running);
        if (at >= 0) {
          this.waiting.splice(at, 1);
          running.reject(new Error('parse task cancelled'));
        }
      },
    };
  }

  /** Starts every thread now (module loading takes ~0.2 s each), e.g. at worker boot. */
  warm(): void {
    while (!this.closed && this.slots.length < this.threads) this.spawn();
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const task = this.waiting[0]!;
      let slot = this.slots.find((s) => s.tasks.size === 0);
      if (slot === undefined && this.slots.length < this.threads) slot = this.spawn();
      slot ??= this.slots.find(canTake);
      if (slot === undefined) return;
      this.waiting.shift();
      slot.tasks.set(task.spec.id, task);
      // A busy thread keeps the process alive (its caller awaits it); an idle one does not.
      slot.worker.ref();
      const transfer = task.spec.inputs.flatMap((i) => (i.kind === 'bytes' ? [i.bytes.buffer as ArrayBuffer] : []));
      const msg: ToThread = { t: 'task', spec: task.spec };
      slot.worker.postMessage(msg, transfer);
    }
  }

  private spawn(): Slot {
    // Each thread is its own V8 isolate with its own heap: a small young generation keeps a
    // thread's garbage from piling up to tens of MB between scavenges (RSS counts every isolate).
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(this.entry, {
      resourceLimits: THREAD_HEAP_LIMITS,
      workerData: { recycle: port2 } satisfies ParseThreadData,
      transferList: [port2],
    });
    const slot: Slot = { worker, tasks: new Map(), recycle: port1 };
    this.slots.push(slot);
    worker.unref();
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    const fail = (e: unknown): void => {
      const tasks = [...slot.tasks.values()];
      slot.tasks.clear();
      this.slots.splice(this.slots.indexOf(slot), 1);
      slot.recycle.close();
      for (const t of tasks) t.reject(threadFailure(e, t.spec));
      if (!this.closed) this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`parse thread exited with code ${code}`));
    });
    return slot;
  }

  private onMessage(slot: Slot, m: FromThread): void {
    const task = slot.tasks.get(m.task);
    if (task === undefined) return;
    switch (m.t) {
      case 'chunk':
        if (task.cancelled) break;
        this.returnWhenSent(slot, m.bytes.buffer as ArrayBuffer);
        task.handlers.onChunk(m.bytes, m.file, m.firstRow, m.rowCount);
        break;
      case 'known-rows':
        if (!task.cancelled) task.handlers.onKnownRows(m.rows);
        break;
      case 'reject':
        if (!task.cancelled) task.handlers.onRejectedRow?.(m.row);
        break;
      case 'read': {
        const reply = (r: ToThread, transfer: ArrayBuffer[] = []): void => {
          if (slot.tasks.get(m.task) === task) slot.worker.postMessage(r, transfer);
        };
        const serve = task.cancelled
          ? Promise.reject(new Error('parse task cancelled'))
          : task.handlers.onRead(m.request);
        serve.then(
          (bytes) => {
            // Always a copy: transferring would detach a buffer the source may still hold.
            const own = bytes === null ? null : new Uint8Array(bytes);
            reply({ t: 'read', task: m.task, req: m.req, bytes: own }, own ? [own.buffer] : []);
          },
          (e: unknown) => {
            task.readFailure ??= e;
            reply({ t: 'read-error', task: m.task, req: m.req, err: serializeError(e, NO_SHIFT) });
          },
        );
        break;
      }
      case 'done':
        this.finish(slot, m.task);
        if (task.cancelled) task.reject(new Error('parse task cancelled'));
        else task.resolve();
        this.pump();
        break;
      case 'error':
        this.finish(slot, m.task);
        task.reject(task.readFailure ?? rebuildError(m.err));
        this.pump();
        break;
    }
  }

  /**
   * Once the COPY has sent a chunk, its buffer goes back to the thread that filled it: otherwise
   * every chunk is a new ArrayBuffer here that lives until a full GC (chunks wait in the queue long
   * enough to be promoted), tens of MB of RSS.
   */
  private returnWhenSent(slot: Slot, buffer: ArrayBuffer): void {
    returnOnRelease(buffer, () => {
      if (this.slots.includes(slot)) slot.recycle.postMessage(buffer, [buffer]);
    });
  }

  private finish(slot: Slot, id: number): void {
    slot.tasks.delete(id);
    if (slot.tasks.size === 0) slot.worker.unref();
  }

  /** Stops every thread; running tasks reject. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.waiting.splice(0)) t.reject(new Error('parse pool closed'));
    const slots = this.slots.splice(0);
    for (const s of slots) for (const t of s.tasks.values()) t.reject(new Error('parse pool closed'));
    for (const s of slots) s.recycle.close();
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
