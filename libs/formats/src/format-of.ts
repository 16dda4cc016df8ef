import { FormatError, FormatErrorCode } from './formats.errors';

export type FileFormat = 'json' | 'jsonl' | 'parquet' | 'numpy' | 'csv';

const BY_EXTENSION: Readonly<Record<string, FileFormat>> = {
  '.json': 'json',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
  '.npy': 'numpy',
  '.csv': 'csv',
};

/** Format of one path by its extension (case-insensitive), or null when not importable (formats.md §1). */
export function formatOfPath(path: string): FileFormat | null {
  const clean = path.replace(/[?#].*$/, '');
  const dot = clean.lastIndexOf('.');
  const slash = clean.lastIndexOf('/');
  if (dot < 0 || dot < slash) return null;
  return BY_EXTENSION[clean.slice(dot).toLowerCase()] ?? null;
}

/**
 * Format of a file group: one file of any supported type, or several `.npy` files. Anything else
 * throws FormatError UnsupportedFileType (`unsupported file type: <path>`, 2100 at create).
 */
export function formatOf(paths: readonly string[]): FileFormat {
  if (paths.length === 0) throw new FormatError(FormatErrorCode.UnsupportedFileType, { file: '' }, 'empty file group');
  let format: FileFormat | null = null;
  for (const p of paths) {
    const f = formatOfPath(p);
    if (f === null)
      throw new FormatError(FormatErrorCode.UnsupportedFileType, { file: '' }, `unsupported file type: ${p}`);
    if (paths.length > 1 && f !== 'numpy')
      throw new FormatError(
        FormatErrorCode.UnsupportedFileType,
        { file: '' },
        `unsupported file type: ${p} (a group of several files must be all .npy)`,
      );
    format = f;
  }
  return format!;
}

/**
 * Checks the CSV job options at create (formats.md §6): `sep` one character other than `"`, CR,
 * LF, NUL. Throws FormatError InvalidOptions (mapped to 1100). Returns the effective values.
 */
export function validateCsvOptions(sep?: string, nullkey?: string): { sep: string; nullkey: string } {
  const s = sep ?? ',';
  if (s.length !== 1)
    throw new FormatError(
      FormatErrorCode.InvalidOptions,
      { file: '' },
      `invalid sep ${JSON.stringify(s)}: must be one character`,
    );
  if (s === '"' || s === '\r' || s === '\n' || s === '\0')
    throw new FormatError(
      FormatErrorCode.InvalidOptions,
      { file: '' },
      `invalid sep ${JSON.stringify(s)}: not allowed`,
    );
  return { sep: s, nullkey: nullkey ?? '' };
}
