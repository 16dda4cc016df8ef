import { createHash } from 'node:crypto';
import type { AppConfig } from '@gw/config';
import { parseJobTimeout } from '@gw/config';
import { type FileFormat, FormatError, formatOf, formatOfPath, validateCsvOptions } from '@gw/formats';
import { canonicalJson } from '@gw/schema';
import { isStorageError, parseObjectLocation, relativeKeyProblem, stripQuery, validateCredentials } from '@gw/storage';
import { checkVolumeName, volumeUrl, VolumesError } from '@gw/volumes';
import type { StoredCredentials } from './credentials-cipher';
import { type ImportExtensions, parseImportExtensions } from './extension-options';
import { jobsErrors } from '../jobs.errors';

/** The body of a create request after the API's parsing (§2: empty values already removed). */
export type RequestBody = Readonly<Record<string, unknown>>;

/** Stage 1 (before any lookup): the fields whose absence is a 1802. */
export interface CreateRequestHead {
  collectionName: string;
  partitionName?: string;
  source: 'files' | 'objectUrl' | 'objectUrls' | 'dataPaths';
}

export interface FileGroupSpec {
  /** Paths/URLs as given, without query strings (safe to store and show). */
  paths: string[];
  /** `details[].fileName`: the paths joined with `,`. */
  displayName: string;
  format: FileFormat | 'folder';
  isFolder: boolean;
}

export interface NormalizedCreateRequest {
  collectionName: string;
  partitionName?: string;
  groups: FileGroupSpec[];
  options: Record<string, string>;
  /** The gateway's own option keys, parsed (docs/api-extensions.md). */
  extensions: ImportExtensions;
  timeout?: { text: string; ms: number };
  /** accessKey/secretKey/token plus the full URLs of paths that carry a signed query string. */
  credentials?: StoredCredentials;
  /** clusterId, projectId, regionId: kept with the job, otherwise ignored. */
  cloud: Record<string, string>;
  source: CreateRequestHead['source'];
  /** sha256 of the request without credentials or signed-URL queries (idempotency comparison). */
  requestHash: string;
  /** The volume of a `volumeName` + `dataPaths` request (its paths are stored as `volume://<name>/<path>`). */
  volumeName?: string;
}

const SOURCES = ['files', 'objectUrl', 'objectUrls', 'dataPaths'] as const;

function str(body: RequestBody, name: string): string | undefined {
  const v = body[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw jobsErrors.invalid(`${name} must be a string`);
  return v;
}

export function readCreateHead(body: RequestBody): CreateRequestHead {
  const present = SOURCES.filter((s) => body[s] !== undefined);
  const missing: string[] = [];
  const collectionName = body.collectionName;
  if (collectionName === undefined) missing.push('collectionName');
  if (present.length === 0 && body.volumeName !== undefined && collectionName !== undefined) {
    throw jobsErrors.invalid('volumeName needs dataPaths (the paths inside the volume)');
  }
  if (present.length === 0) missing.push('files');
  if (missing.length > 0) throw jobsErrors.missing(missing);
  if (typeof collectionName !== 'string') throw jobsErrors.invalid('collectionName must be a string');
  const partitionName = str(body, 'partitionName');
  if (present.length > 1) {
    throw jobsErrors.invalid(`give only one of files, objectUrl, objectUrls and dataPaths (got ${present.join(', ')})`);
  }
  return { collectionName, ...(partitionName === undefined ? {} : { partitionName }), source: present[0]! };
}

function groupsOf(body: RequestBody, source: CreateRequestHead['source']): string[][] {
  const v = body[source];
  if (source === 'objectUrl') {
    if (typeof v !== 'string') throw jobsErrors.invalid('objectUrl must be a string');
    return [[v]];
  }
  if (!Array.isArray(v)) throw jobsErrors.invalid(`${source} must be a list of lists of paths`);
  return v.map((g: unknown, i) => {
    // A bare string in place of a group is accepted as a group of one (a common client mistake).
    const group: unknown = typeof g === 'string' ? [g] : g;
    if (!Array.isArray(group)) throw jobsErrors.invalid(`${source}[${i}] must be a list of paths`);
    if (group.length === 0) throw jobsErrors.invalid(`${source}[${i}] is an empty file group`);
    return group.map((p: unknown, j) => {
      if (typeof p !== 'string' || p.trim() === '') {
        throw jobsErrors.invalid(`${source}[${i}][${j}] must be a non-empty string`);
      }
      return p.trim();
    });
  });
}

const UNSUPPORTED_OPTIONS: Readonly<Record<string, string>> = {
  backup: 'true',
  l0_import: 'true',
  auto_commit: 'false',
};

function optionsOf(body: RequestBody): Record<string, string> {
  const v = body.options;
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw jobsErrors.invalid('options must be an object');
  const out: Record<string, string> = {};
  for (const [k, raw] of Object.entries(v as Record<string, unknown>)) {
    if (raw === null || raw === undefined || raw === '') continue;
    if (typeof raw === 'string') out[k] = raw;
    else if (typeof raw === 'number' || typeof raw === 'boolean' || typeof raw === 'bigint') out[k] = String(raw);
    else throw jobsErrors.invalid(`options.${k} must be a string`);
  }
  for (const [k, bad] of Object.entries(UNSUPPORTED_OPTIONS)) {
    if (out[k]?.toLowerCase() === bad) throw jobsErrors.invalid(`options.${k}=${bad} is not supported`);
  }
  return out;
}

export interface ShapeContext {
  config: Pick<AppConfig, 'storage' | 'import'>;
  /** Files a NumPy group may hold (schema fields plus `$meta`); unbounded when absent. */
  maxGroupFiles?: number;
}

/**
 * Longest path or URL accepted (2100): S3 keys stop at 1,024 bytes and presigned URLs with a
 * session token stay under ~3 KB; this bounds what every describe answer repeats (decision 0903).
 */
export const MAX_PATH_CHARS = 8_192;

/** A group named in an error: its first paths only, so a hostile group cannot make the message huge. */
function shortName(paths: readonly string[]): string {
  const head = paths.slice(0, 3).map((p) => (p.length > 200 ? `${p.slice(0, 200)}…` : p));
  return paths.length > 3 ? `${head.join(',')},… (${paths.length} paths)` : head.join(',');
}

/**
 * Stage 2 (after database/collection/partition checks): field shapes and options (1100), then
 * request limits (2100), in the order of import-api.md §5.
 */
export function normalizeCreateRequest(
  body: RequestBody,
  head: CreateRequestHead,
  ctx: ShapeContext,
): NormalizedCreateRequest {
  const volumeName = volumeOf(body, head.source);
  const rawGroups = groupsOf(body, head.source);
  // Counted before any path is parsed, so a request of a million paths costs a count, not a million parses.
  const totalPaths = rawGroups.reduce((n, g) => n + g.length, 0);
  if (totalPaths > ctx.config.import.maxPaths) {
    throw jobsErrors.refused(`too many paths: ${totalPaths}, at most ${ctx.config.import.maxPaths} per request`);
  }
  const options = optionsOf(body);

  let timeout: NormalizedCreateRequest['timeout'];
  if (options.timeout !== undefined) {
    const ms = parseJobTimeout(options.timeout);
    if (ms === null) {
      throw jobsErrors.invalid(
        `options.timeout "${options.timeout}" is not a duration such as 300s, 1.5h or 1h45m (> 0, at most 720h)`,
      );
    }
    timeout = { text: options.timeout, ms };
  } else if (ctx.config.import.defaultTimeout !== undefined) {
    timeout = ctx.config.import.defaultTimeout;
  }
  try {
    validateCsvOptions(options.sep, options.nullkey);
  } catch (e) {
    if (e instanceof FormatError) throw jobsErrors.invalid(`options: ${e.message}`);
    throw e;
  }
  const extensions = parseImportExtensions(options);

  // URLs: every path must resolve to a supported location (1100), checked before limits.
  const signedUrls: Record<string, string> = {};
  let firstLocation: ReturnType<typeof parseObjectLocation> | undefined;
  const groupsAsGiven = rawGroups.map((group, i) =>
    group.map((p, j) => {
      if (volumeName !== undefined) {
        const why = relativeKeyProblem(p);
        if (why !== null) throw jobsErrors.invalid(`dataPaths[${i}][${j}] ${JSON.stringify(p)}: ${why}`);
        return { display: volumeUrl(volumeName, p), isFolder: p.endsWith('/') };
      }
      let loc: ReturnType<typeof parseObjectLocation>;
      try {
        loc = parseObjectLocation(p, ctx.config.storage);
      } catch (e) {
        if (isStorageError(e)) throw jobsErrors.invalid(e.message);
        throw e;
      }
      firstLocation ??= loc;
      const display = stripQuery(p);
      if (display !== p) signedUrls[display] = p;
      return { display, isFolder: loc.isFolder };
    }),
  );

  let credentials: StoredCredentials | undefined;
  if (volumeName !== undefined && ['accessKey', 'secretKey', 'token'].some((k) => body[k] !== undefined)) {
    throw jobsErrors.invalid('accessKey, secretKey and token do not apply to volumes (the gateway reads its own)');
  }
  try {
    credentials = validateCredentials(
      { accessKey: str(body, 'accessKey'), secretKey: str(body, 'secretKey'), token: str(body, 'token') },
      firstLocation,
    );
  } catch (e) {
    if (isStorageError(e)) throw jobsErrors.invalid(e.message);
    throw e;
  }
  if (Object.keys(signedUrls).length > 0) credentials = { ...credentials, signedUrls };

  // Limits and file types (2100).
  if (groupsAsGiven.length > ctx.config.import.maxFileGroups) {
    throw jobsErrors.refused(
      `too many file groups: ${groupsAsGiven.length}, at most ${ctx.config.import.maxFileGroups} per request`,
    );
  }
  const groups = groupsAsGiven.map((g): FileGroupSpec => {
    const paths = g.map((x) => x.display);
    const long = paths.find((p) => p.length > MAX_PATH_CHARS);
    if (long !== undefined) {
      throw jobsErrors.refused(`path longer than ${MAX_PATH_CHARS} characters: ${shortName([long])}`);
    }
    const displayName = paths.join(',');
    if (g.some((x) => x.isFolder)) {
      if (g.length > 1) throw jobsErrors.refused(`a folder must be a file group of its own: ${shortName(paths)}`);
      return { paths, displayName, format: 'folder', isFolder: true };
    }
    try {
      const format = formatOf(paths);
      if (format === 'numpy' && ctx.maxGroupFiles !== undefined && paths.length > ctx.maxGroupFiles) {
        throw jobsErrors.refused(
          `a NumPy file group has ${paths.length} files, more than the collection's fields plus $meta ` +
            `(${ctx.maxGroupFiles}): ${shortName(paths)}`,
        );
      }
      return { paths, displayName, format, isFolder: false };
    } catch (e) {
      if (e instanceof FormatError) {
        const bad = paths.find((p) => formatOfPath(p) === null);
        throw jobsErrors.refused(bad === undefined ? e.message : `unsupported file type: ${bad}`);
      }
      throw e;
    }
  });

  const cloud: Record<string, string> = {};
  for (const k of ['clusterId', 'projectId', 'regionId']) {
    const v = body[k];
    if (typeof v === 'string' || typeof v === 'number') cloud[k] = String(v);
  }

  const hashed = {
    collectionName: head.collectionName,
    partitionName: head.partitionName,
    source: head.source,
    groups: groups.map((g) => g.paths),
    options,
    cloud,
  };
  return {
    collectionName: head.collectionName,
    ...(head.partitionName === undefined ? {} : { partitionName: head.partitionName }),
    groups,
    options,
    extensions,
    ...(timeout === undefined ? {} : { timeout }),
    ...(credentials === undefined ? {} : { credentials }),
    cloud,
    source: head.source,
    requestHash: createHash('sha256').update(canonicalJson(hashed)).digest('hex'),
    ...(volumeName === undefined ? {} : { volumeName }),
  };
}

/** `volumeName` and `dataPaths` come together (import-api.md §5); a volume name follows its rules. */
function volumeOf(body: RequestBody, source: CreateRequestHead['source']): string | undefined {
  const name = body.volumeName;
  if (source !== 'dataPaths') {
    if (name !== undefined) throw jobsErrors.invalid('volumeName needs dataPaths (the paths inside the volume)');
    return undefined;
  }
  if (name === undefined) throw jobsErrors.invalid('dataPaths needs volumeName (the volume they are in)');
  try {
    return checkVolumeName(name);
  } catch (e) {
    if (e instanceof VolumesError) throw jobsErrors.invalid(e.message.replace(/^invalid parameter: /, ''));
    throw e;
  }
}

/** `Idempotency-Key`: 1–256 printable ASCII characters. */
export function validateIdempotencyKey(key: string | undefined): string | undefined {
  if (key === undefined) return undefined;
  if (key.length < 1 || key.length > 256 || !/^[\x20-\x7e]+$/.test(key)) {
    throw jobsErrors.invalid('Idempotency-Key must be 1 to 256 printable ASCII characters');
  }
  return key;
}
