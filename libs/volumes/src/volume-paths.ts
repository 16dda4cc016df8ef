import { checkName, CollectionsError } from '@gw/collections';
import { relativeKeyProblem } from '@gw/storage';
import { volumesErrors } from './volumes.errors';

/** Volume names follow the collection name rules (storage.md §7). */
export function checkVolumeName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw volumesErrors.invalid('volumeName must be a non-empty string');
  try {
    return checkName('volume', name);
  } catch (e) {
    if (e instanceof CollectionsError) throw volumesErrors.invalid(e.message.replace(/^invalid parameter: /, ''));
    throw e;
  }
}

/**
 * A client path inside a volume, checked (relativeKeyProblem: no `..`, no absolute paths, no
 * hidden names, no backslashes or control characters). `folder`: whether a trailing `/` is
 * required, allowed or refused.
 */
export function checkVolumePath(path: unknown, folder: 'allowed' | 'required' | 'refused', field = 'path'): string {
  if (typeof path !== 'string') throw volumesErrors.invalid(`${field} must be a string`);
  const why = relativeKeyProblem(path, { folder });
  if (why !== null) throw volumesErrors.invalid(`${field} ${JSON.stringify(path)}: ${why}`);
  return path;
}

const VOLUME_URL = /^volume:\/\/([^/]+)\/(.*)$/s;

/** How a job stores a path of a volume: `volume://<name>/<path>` (also what details[] show). */
export function volumeUrl(name: string, path: string): string {
  return `volume://${name}/${path}`;
}

export function isVolumeUrl(url: string): boolean {
  return url.startsWith('volume://');
}

export function parseVolumeUrl(url: string): { name: string; path: string } {
  const m = VOLUME_URL.exec(url);
  if (m === null) throw volumesErrors.invalid(`not a volume path: ${url}`);
  return { name: m[1]!, path: m[2]! };
}
