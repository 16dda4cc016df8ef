import type { RenewResult } from '@gw/db';

export type AbortWhy = 'cancelled' | 'timeout' | 'shutdown' | 'lease-lost';

/** Why a run (or a slot helping it) stopped before finishing. */
export class Aborted extends Error {
  constructor(
    readonly why: AbortWhy,
    readonly detail = '',
  ) {
    super(`import ${why}${detail === '' ? '' : `: ${detail}`}`);
  }
}

/**
 * The watch over one run in one slot: renews (lease or claims) about every second, turns a
 * cancel, a lost lease, the deadline or shutdown into an abort of `signal`, and flushes progress
 * on the same tick so a slow batch still shows movement.
 */
export class RunGuard {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly deadlineTimer: NodeJS.Timeout | undefined;
  private readonly shutdown: AbortSignal | undefined;
  private readonly onShutdown = () => this.abort('shutdown');
  /** Called on every tick before renewing (progress flush); errors are ignored. */
  tick: (() => Promise<unknown>) | undefined;

  constructor(
    renew: () => Promise<RenewResult>,
    opts: { leaseMs: number; deadlineAt: Date | null; shutdown?: AbortSignal; lostDetail: string },
  ) {
    this.shutdown = opts.shutdown;
    this.shutdown?.addEventListener('abort', this.onShutdown);
    this.timer = setInterval(
      () => {
        this.tick?.().catch(() => undefined);
        renew().then(
          (r) => {
            if (r === 'cancelled') this.abort('cancelled');
            else if (r === 'lost') this.abort('lease-lost', opts.lostDetail);
          },
          () => undefined, // a lost connection shows at the next renewal or in the data path
        );
      },
      Math.min(1_000, Math.floor(opts.leaseMs / 3)),
    );
    if (opts.deadlineAt !== null) {
      this.deadlineTimer = setTimeout(() => this.abort('timeout'), Math.max(0, opts.deadlineAt.getTime() - Date.now()));
      if (opts.deadlineAt.getTime() <= Date.now()) this.abort('timeout');
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  abort(why: AbortWhy, detail?: string): void {
    if (!this.controller.signal.aborted) this.controller.abort(new Aborted(why, detail));
  }

  /** The abort behind an error, if the run was stopped rather than failed. */
  reasonOf(err: unknown): Aborted | null {
    if (err instanceof Aborted) return err;
    const r: unknown = this.controller.signal.reason;
    return r instanceof Aborted ? r : null;
  }

  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.deadlineTimer);
    this.shutdown?.removeEventListener('abort', this.onShutdown);
  }
}
