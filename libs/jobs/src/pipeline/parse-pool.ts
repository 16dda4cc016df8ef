import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  rebuildError,
  serializeError,
  NO_SHIFT,
  type FromThread,
  type ReadRequest,
  type TaskSpec,
  type ToThread,
} from './protocol';

/** What a task reports while it runs. */
export interface TaskHandlers {
  onChunk(bytes: Uint8Array, file: string, firstRow: number, rowCount: number): void;
  onKnownRows(rows: number): void;
  /** Serves a read of a remote input; resolves null at the end of a stream. */
  onRead(request: ReadRequest): Promise<Uint8Array | null>;
}

interface Slot {
  readonly worker: Worker;
  task: Running | null;
}

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

  private pump(): void {
    while (this.waiting.length > 0) {
      let slot = this.slots.find((s) => s.task === null);
      if (slot === undefined && this.slots.length < this.threads) slot = this.spawn();
      if (slot === undefined) return;
      const task = this.waiting.shift()!;
      slot.task = task;
      // A busy thread keeps the process alive (its caller awaits it); an idle one does not.
      slot.worker.ref();
      const transfer = task.spec.inputs.flatMap((i) => (i.kind === 'bytes' ? [i.bytes.buffer as ArrayBuffer] : []));
      const msg: ToThread = { t: 'task', spec: task.spec };
      slot.worker.postMessage(msg, transfer);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.entry);
    const slot: Slot = { worker, task: null };
    this.slots.push(slot);
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    const fail = (e: unknown): void => {
      const t = slot.task;
      slot.task = null;
      this.slots.splice(this.slots.indexOf(slot), 1);
      t?.reject(e instanceof Error ? e : new Error(`parse thread stopped: ${String(e)}`));
      if (!this.closed) this.pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (this.slots.includes(slot)) fail(new Error(`parse thread exited with code ${code}`));
    });
    return slot;
  }

  private onMessage(slot: Slot, m: FromThread): void {
    const task = slot.task;
    if (task === null || task.spec.id !== m.task) return;
    switch (m.t) {
      case 'chunk':
        if (!task.cancelled) task.handlers.onChunk(m.bytes, m.file, m.firstRow, m.rowCount);
        break;
      case 'known-rows':
        if (!task.cancelled) task.handlers.onKnownRows(m.rows);
        break;
      case 'read': {
        const reply = (r: ToThread, transfer: ArrayBuffer[] = []): void => {
          if (slot.task === task) slot.worker.postMessage(r, transfer);
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
        slot.task = null;
        slot.worker.unref();
        if (task.cancelled) task.reject(new Error('parse task cancelled'));
        else task.resolve();
        this.pump();
        break;
      case 'error':
        slot.task = null;
        slot.worker.unref();
        task.reject(task.readFailure ?? rebuildError(m.err));
        this.pump();
        break;
    }
  }

  /** Stops every thread; running tasks reject. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.waiting.splice(0)) t.reject(new Error('parse pool closed'));
    const slots = this.slots.splice(0);
    for (const s of slots) s.task?.reject(new Error('parse pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
