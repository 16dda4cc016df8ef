/** Longest path accepted inside a volume, in UTF-8 bytes (S3's key limit). */
export const MAX_RELATIVE_KEY_BYTES = 1024;
const MAX_SEGMENT_BYTES = 255;

/**
 * Why a path given by a client cannot name something inside a volume, or null when it can
 * (storage.md §7). Paths are `/`-separated and relative; a trailing `/` names a folder. Refused
 * rather than rewritten, so what a client sees in a listing is exactly what it sent:
 * - absolute paths, `.` and `..` segments, empty segments (`a//b`);
 * - any segment starting with `.` — hidden names are where uploads in progress live, and
 *   folder expansion skips them anyway (storage.md §3);
 * - backslashes (a separator on Windows clients, a traversal trick elsewhere), NUL and other
 *   control characters;
 * - more than 1024 bytes in all or 255 in a segment (file-system and S3 limits).
 */
export function relativeKeyProblem(
  path: string,
  opts: { folder?: 'allowed' | 'required' | 'refused' } = {},
): string | null {
  const folder = opts.folder ?? 'allowed';
  if (path === '') return 'empty path';
  if (Buffer.byteLength(path, 'utf8') > MAX_RELATIVE_KEY_BYTES) return `longer than ${MAX_RELATIVE_KEY_BYTES} bytes`;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'control characters are not allowed';
  if (path.includes('\\')) return 'backslashes are not allowed';
  if (path.startsWith('/')) return 'absolute paths are not allowed';
  const isFolder = path.endsWith('/');
  if (isFolder && folder === 'refused') return 'a file path cannot end with /';
  if (!isFolder && folder === 'required') return 'a folder path must end with /';
  const segments = (isFolder ? path.slice(0, -1) : path).split('/');
  for (const s of segments) {
    if (s === '') return 'empty path segments are not allowed';
    if (s === '.' || s === '..') return `"${s}" is not allowed`;
    if (s.startsWith('.')) return 'names starting with "." are not allowed';
    if (Buffer.byteLength(s, 'utf8') > MAX_SEGMENT_BYTES)
      return `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return null;
}
