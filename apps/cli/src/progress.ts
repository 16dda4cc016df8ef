import { z } from 'zod';

/** The part of a describe answer (import-api.md §7) that progress is computed from. */
export const jobSnapshot = z
  .object({
    jobId: z.string(),
    collectionName: z.string().optional(),
    state: z.string(),
    gatewayState: z.string().optional(),
    progress: z.number(),
    importedRows: z.number().optional(),
    totalRows: z.number().optional(),
    fileSize: z.number().optional(),
    reason: z.string().optional(),
  })
  .loose();
export type JobSnapshot = z.infer<typeof jobSnapshot>;

export const TERMINAL_STATES = new Set(['Completed', 'Failed', 'Cancelled']);

/** The exact state: `gatewayState` tells Cancelled apart from Failed (§6). */
export function stateOf(s: JobSnapshot): string {
  return s.gatewayState ?? s.state;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `m:ss`, or `h:mm:ss` past an hour. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export interface ProgressFigures {
  state: string;
  percent: number;
  rows: number;
  bytesDone: number;
  bytesTotal: number;
  /** Rows per second since the job was first seen importing, once it can be measured. */
  rowsPerSecond: number | undefined;
  bytesPerSecond: number | undefined;
  etaMs: number | undefined;
  elapsedMs: number;
}

/**
 * Turns successive describe answers into rate and ETA. The gateway reports bytes only through
 * `progress` = floor(99 × bytes consumed / total) (§6), so bytes done are derived from it; the
 * rates are averages since the first Importing sample, steadier than sample-to-sample deltas.
 */
export class ProgressMeter {
  private first: { at: number; rows: number; bytes: number } | undefined;
  private latest: ProgressFigures | undefined;

  constructor(private readonly startedAt: number) {}

  observe(s: JobSnapshot, now: number): ProgressFigures {
    const state = stateOf(s);
    const bytesTotal = s.fileSize ?? 0;
    const bytesDone = state === 'Completed' ? bytesTotal : Math.min(bytesTotal, (bytesTotal * s.progress) / 99);
    const rows = s.importedRows ?? 0;
    if (this.first === undefined && state === 'Importing') this.first = { at: now, rows, bytes: bytesDone };
    let rowsPerSecond: number | undefined;
    let bytesPerSecond: number | undefined;
    let etaMs: number | undefined;
    const since = this.first === undefined ? 0 : (now - this.first.at) / 1000;
    if (this.first !== undefined && since >= 0.5) {
      rowsPerSecond = (rows - this.first.rows) / since;
      bytesPerSecond = (bytesDone - this.first.bytes) / since;
      if (bytesPerSecond > 0 && !TERMINAL_STATES.has(state)) etaMs = ((bytesTotal - bytesDone) / bytesPerSecond) * 1000;
    }
    this.latest = {
      state,
      percent: s.progress,
      rows,
      bytesDone,
      bytesTotal,
      rowsPerSecond,
      bytesPerSecond,
      etaMs,
      elapsedMs: now - this.startedAt,
    };
    return this.latest;
  }
}

const BAR_WIDTH = 24;

/** One progress line; `bar` adds the drawn bar (terminals), plain lines leave it out (logs, pipes). */
export function progressLine(f: ProgressFigures, bar: boolean): string {
  const parts: string[] = [];
  if (bar) {
    const filled = Math.round((BAR_WIDTH * f.percent) / 100);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`);
  }
  parts.push(`${f.state.padEnd(9)} ${String(f.percent).padStart(3)}%`);
  parts.push(`${formatCount(f.rows)} rows`);
  parts.push(`${formatBytes(f.bytesDone)} / ${formatBytes(f.bytesTotal)}`);
  if (f.rowsPerSecond !== undefined) parts.push(`${formatCount(f.rowsPerSecond)} rows/s`);
  if (f.bytesPerSecond !== undefined) parts.push(`${formatBytes(f.bytesPerSecond)}/s`);
  parts.push(f.etaMs === undefined ? 'ETA --:--' : `ETA ${formatDuration(f.etaMs)}`);
  return parts.join('  ');
}
