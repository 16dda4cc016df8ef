import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, type JobSnapshot, ProgressMeter, progressLine } from './progress';

const snap = (s: Partial<JobSnapshot>): JobSnapshot => ({
  jobId: 'job-x',
  state: 'Importing',
  gatewayState: 'Importing',
  progress: 0,
  importedRows: 0,
  totalRows: 0,
  fileSize: 99 * 1024 * 1024,
  ...s,
});

describe('progress figures', () => {
  it('derives bytes from progress (floor(99 × consumed / total)), and rate and ETA from the first Importing sample', () => {
    const m = new ProgressMeter(0);
    const a = m.observe(snap({ progress: 0 }), 1_000);
    expect(a.rowsPerSecond).toBeUndefined();
    expect(a.etaMs).toBeUndefined();
    const b = m.observe(snap({ progress: 33, importedRows: 20_000 }), 11_000);
    expect(b.bytesDone).toBe(33 * 1024 * 1024);
    expect(b.rowsPerSecond).toBe(2_000);
    expect(b.bytesPerSecond).toBeCloseTo((33 * 1024 * 1024) / 10);
    // 66 MiB left at 3.3 MiB/s
    expect(b.etaMs).toBeCloseTo(20_000);
    expect(progressLine(b, true)).toBe(
      `[########----------------]  Importing  33%  20,000 rows  33 MiB / 99 MiB  2,000 rows/s  3.3 MiB/s  ETA 0:20`,
    );
    expect(progressLine(b, false)).toBe(
      'Importing  33%  20,000 rows  33 MiB / 99 MiB  2,000 rows/s  3.3 MiB/s  ETA 0:20',
    );
  });

  it('shows every byte once Completed, with no ETA, and Cancelled from gatewayState', () => {
    const m = new ProgressMeter(0);
    m.observe(snap({ progress: 10 }), 0);
    const done = m.observe(
      snap({ state: 'Completed', gatewayState: 'Completed', progress: 100, importedRows: 5 }),
      2_000,
    );
    expect(done.bytesDone).toBe(99 * 1024 * 1024);
    expect(done.etaMs).toBeUndefined();
    const c = new ProgressMeter(0).observe(snap({ state: 'Failed', gatewayState: 'Cancelled' }), 0);
    expect(c.state).toBe('Cancelled');
    expect(progressLine(c, false)).toContain('ETA --:--');
  });

  it('formats sizes and durations for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(121_697)).toBe('119 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
    expect(formatDuration(59_400)).toBe('0:59');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
  });
});
