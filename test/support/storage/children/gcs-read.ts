/**
 * Child process of the Google credential tests (run from dist/ like the apps): opens one GCS
 * location with openObjectSource and reads it, in a process whose environment the test chose
 * (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, GCE_METADATA_HOST, GOOGLE_APPLICATION_CREDENTIALS — Google's
 * libraries read them at start-up or from process.env, so each case needs its own process).
 *
 * Input: the JSON of a GcsReadCase in IGW_CHILD_CASE. Output: one line `IGW_RESULT <json>` of a
 * GcsReadResult on stdout. The loopback tripwire is installed before any storage code loads.
 */
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { installLoopbackTripwire, type LoopbackTripwire } from '../../loopback-only';
import { testStorageConfig } from '../config'; // type-only use of @gw/storage: loads nothing

export interface GcsReadCase {
  url: string;
  /** Request credentials (accessKey / secretKey / token) as a create request would carry them. */
  credentials?: { accessKey?: string; secretKey?: string; token?: string };
  gcs: { endpoint?: string; credentialsFile?: string };
  /** STORAGE_AMBIENT_CREDENTIALS */
  ambient: boolean;
  /** STORAGE_ALLOWED_BUCKETS: the buckets server and ambient credentials are lent to (spec §4). */
  allowedBuckets?: string[];
  /** STORAGE_DEFAULT_URL */
  defaultUrl?: string;
  /** Answers for the SSRF pre-check's DNS (no real lookup happens); names not here do not resolve. */
  names: Record<string, string>;
  /** Also list this folder URL. */
  folder?: string;
  /** STORAGE_CA_FILE's PEM. */
  caPem?: string;
}

export interface GcsReadResult {
  ok: boolean;
  size?: number;
  sha256?: string;
  listed?: string[];
  error?: { code: string; message: string; retryable: boolean; renderings: string[] };
  /** Host names the SSRF pre-check asked about. */
  resolved: string[];
  connections: LoopbackTripwire['connections'];
  refused: string[];
}

export const RESULT_MARKER = 'IGW_RESULT ';

async function main(): Promise<void> {
  const tripwire = installLoopbackTripwire();
  const input = JSON.parse(process.env.IGW_CHILD_CASE ?? '{}') as GcsReadCase;
  const { openObjectSource, parseObjectLocation, isStorageError } = await import('@gw/storage');
  const resolved: string[] = [];
  const config = testStorageConfig({
    gcs: input.gcs,
    requestTimeoutMs: 5_000,
    ambientCredentials: input.ambient,
    allowedBuckets: input.allowedBuckets ?? [],
    ...(input.defaultUrl === undefined ? {} : { defaultUrl: input.defaultUrl }),
    ...(input.caPem === undefined ? {} : { caPem: input.caPem }),
  });
  const deps = {
    ambientCredentials: input.ambient,
    retry: { retries: 3, baseDelayMs: 5, maxDelayMs: 40 },
    resolver: (host: string) => {
      resolved.push(host);
      const address = input.names[host];
      return address === undefined
        ? Promise.reject(Object.assign(new Error(`not resolvable in this test: ${host}`), { code: 'ENOTFOUND' }))
        : Promise.resolve([{ address, family: 4 as const }]);
    },
  };
  const result: GcsReadResult = { ok: false, resolved, connections: tripwire.connections, refused: tripwire.refused };
  try {
    const loc = parseObjectLocation(input.url, config);
    const src = openObjectSource(loc, input.credentials, config, deps);
    try {
      const stat = await src.stat(loc.key);
      // A ranged read, then a stream from where it ended: the hash is of the whole object.
      const head = await src.readRange(loc.key, 0, Math.min(stat.size, 1000));
      const hash = createHash('sha256').update(head);
      for await (const chunk of src.stream(loc.key, head.length)) hash.update(chunk);
      result.size = stat.size;
      result.sha256 = hash.digest('hex');
    } finally {
      src.close();
    }
    if (input.folder !== undefined) {
      const folder = parseObjectLocation(input.folder, config);
      const fsrc = openObjectSource(folder, input.credentials, config, deps);
      try {
        const listed: string[] = [];
        for await (const s of fsrc.list(folder.key)) listed.push(s.key);
        result.listed = listed;
      } finally {
        fsrc.close();
      }
    }
    result.ok = true;
  } catch (e) {
    result.error = {
      code: isStorageError(e) ? e.code : 'UNEXPECTED',
      message: e instanceof Error ? e.message : String(e),
      retryable: isStorageError(e) && e.retryable,
      renderings: [String(e), JSON.stringify(e), inspect(e, { depth: 20, showHidden: true })],
    };
  }
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`gcs-read child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
