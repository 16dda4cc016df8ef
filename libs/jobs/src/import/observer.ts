/**
 * What a worker's runs report as they go, for the process's metrics (apps/worker). Optional and
 * synchronous: an observer must not slow a run down or fail it.
 */
export interface ImportObserver {
  /** A file group's rows were committed to staging (or, for a one-group job, published). */
  groupStaged(e: { format: string; rows: number; bytes: number; ms: number }): void;
  /** A job's staged rows were published into its collection. */
  published(e: { rows: number; ms: number }): void;
}

/** The format label of a group: its first unit's format ('mixed' when a folder held several). */
export function formatLabel(units: readonly { format: string }[]): string {
  const first = units[0]?.format ?? 'none';
  return units.every((u) => u.format === first) ? first : 'mixed';
}
