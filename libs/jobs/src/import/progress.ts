import type { FileProgress, RunRef } from '@gw/db';

/** The one write a progress tracker makes: fenced by the run (false: the run no longer owns the job). */
export type ProgressSink = (run: RunRef, files: readonly FileProgress[]) => Promise<boolean>;

/**
 * Live progress of the groups one slot stages, written at most every second or 5 % (never on the
 * data transaction) and only while the run still owns the job. The job's totals are summed from
 * its files in SQL, since several slots may stage groups of one job. Progress is a byte ratio:
 * rows are unknown up front for text formats.
 */
export class ProgressTracker {
  private readonly files = new Map<number, { size: number; bytes: number; rows: number; known: number | null }>();
  private lastWrite = 0;
  private lastPct = 0;
  private writing: Promise<boolean> | undefined;

  constructor(
    private readonly write: ProgressSink,
    private readonly run: RunRef,
  ) {}

  startFile(group: number, size: number): void {
    this.files.set(group, { size, bytes: 0, rows: 0, known: null });
  }
  bytes(group: number, n: number): void {
    const f = this.files.get(group);
    if (f) f.bytes = Math.min(f.size, f.bytes + n);
  }
  rows(group: number, n: number): void {
    const f = this.files.get(group);
    if (f) f.rows += n;
  }
  knownRows(group: number, n: number): void {
    const f = this.files.get(group);
    if (f) f.known = (f.known ?? 0) + n;
  }
  /** The group is staged (its file row says so) or abandoned: no more updates for it. */
  endFile(group: number): void {
    this.files.delete(group);
  }

  private pct(bytes: number, total: number): number {
    return total <= 0 ? 0 : Math.min(99, Math.floor((99 * bytes) / total));
  }

  /** Writes if due (or forced); resolves false when the run no longer owns the job. */
  async flush(force: boolean): Promise<boolean> {
    if (this.writing !== undefined) {
      if (!force) return true; // one write at a time; the next flush carries the newer numbers
      await this.writing.catch(() => undefined);
    }
    let bytes = 0;
    let size = 0;
    for (const f of this.files.values()) {
      bytes += f.bytes;
      size += f.size;
    }
    const pct = this.pct(bytes, size);
    const now = Date.now();
    if (!force && now - this.lastWrite < 1_000 && pct - this.lastPct < 5) return true;
    this.lastWrite = now;
    this.lastPct = pct;
    const files = [...this.files].map(([group, f]) => ({
      group,
      progress: this.pct(f.bytes, f.size),
      rows: f.rows,
      totalRows: Math.max(f.rows, f.known ?? 0),
      bytes: f.bytes,
    }));
    this.writing = this.write(this.run, files);
    try {
      return await this.writing;
    } finally {
      this.writing = undefined;
    }
  }
}
