import type { FileProgress, RunRef } from '@gw/db';

/** The one write a progress tracker makes: fenced by the run (false: the run no longer owns the job). */
export type ProgressSink = (
  run: RunRef,
  job: { progress: number; rows: number; bytes: number },
  files: readonly FileProgress[],
) => Promise<boolean>;

/**
 * Live progress of one run, written at most every second or 5 % (never on the data
 * transaction), never backwards (the SQL keeps the greater value), and only while the run still
 * owns the job. Progress is a byte ratio: rows are unknown up front for text formats.
 */
export class ProgressTracker {
  private readonly files = new Map<number, { size: number; bytes: number; rows: number; known: number | null }>();
  private lastWrite = 0;
  private lastPct = 0;
  private doneBytes = 0;
  private doneRows = 0;
  private writing: Promise<boolean> | undefined;

  constructor(
    private readonly write: ProgressSink,
    private readonly run: RunRef,
    private readonly totalBytes: number,
  ) {}

  /** A group staged by an earlier run. */
  resumed(rows: number, size: number): void {
    this.doneBytes += size;
    this.doneRows += rows;
  }
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
  finishFile(group: number, size: number, rows: number): void {
    this.files.delete(group);
    this.doneBytes += size;
    this.doneRows += rows;
  }
  /** A group whose staging failed: its partial counts are forgotten. */
  abandonFile(group: number): void {
    this.files.delete(group);
  }

  /** Rows staged or in flight so far (for the first-row metric and logs). */
  get rowsSoFar(): number {
    let rows = this.doneRows;
    for (const f of this.files.values()) rows += f.rows;
    return rows;
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
    let bytes = this.doneBytes;
    let rows = this.doneRows;
    for (const f of this.files.values()) {
      bytes += f.bytes;
      rows += f.rows;
    }
    const pct = this.pct(bytes, this.totalBytes);
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
    this.writing = this.write(this.run, { progress: pct, rows, bytes }, files);
    try {
      return await this.writing;
    } finally {
      this.writing = undefined;
    }
  }
}
