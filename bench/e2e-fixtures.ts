/**
 * Data and file serving for bench/import-e2e.ts: deterministic rows (int64 id, 128-d FloatVector,
 * ~16-char VarChar) written as JSONL, JSON, CSV, a NumPy group (numpy writes it) and Parquet
 * (DuckDB writes it), and a loopback HTTP server that serves a directory from disk with Range,
 * ETag and If-Match, so files of gigabytes are never held in memory.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, createReadStream, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize, sep } from 'node:path';

export const DIM = 128;

/** Row i's vector, float32 values from a 32-bit LCG (numpy reproduces it bit for bit in NUMPY_PY). */
export function vectorInto(i: number, out: Float32Array, offset: number): void {
  let x = Math.imul(i, 2654435761 | 0) >>> 0;
  for (let k = 0; k < DIM; k++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[offset + k] = x / 4294967296 - 0.5;
  }
}

const scratch = new Float32Array(DIM);
/** The vector as JSON array text: each float32 printed as JS prints it (what BulkWriter's float → double gives). */
export function vectorText(i: number): string {
  vectorInto(i, scratch, 0);
  let s = '[';
  for (let k = 0; k < DIM; k++) s += (k === 0 ? '' : ',') + String(scratch[k]);
  return `${s}]`;
}

/** 16 characters. */
export function tagOf(i: number): string {
  return `item-${String(i).padStart(11, '0')}`;
}

/** Buffers text and writes it in ~1 MiB pieces, to a temporary name renamed when complete. */
class TextFile {
  private readonly fd: number;
  private parts: string[] = [];
  private size = 0;
  constructor(readonly path: string) {
    mkdirSync(join(path, '..'), { recursive: true });
    this.fd = openSync(`${path}.tmp`, 'w');
  }
  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= 1 << 20) this.flush();
  }
  private flush(): void {
    if (this.parts.length > 0) writeSync(this.fd, this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
    renameSync(`${this.path}.tmp`, this.path);
  }
}

export interface TextOutputs {
  jsonl?: string;
  json?: string;
  csv?: string;
  /** Files that split the rows into equal consecutive parts as JSONL (the multi-group job). */
  jsonlParts?: string[];
}

/**
 * Writes rows [0, rows) to every requested text file in one pass (the vector text is built once
 * per row). Streams: memory stays a few MiB whatever the size.
 */
export function writeTextFiles(rows: number, out: TextOutputs): void {
  const jsonl = out.jsonl === undefined ? undefined : new TextFile(out.jsonl);
  const json = out.json === undefined ? undefined : new TextFile(out.json);
  const csv = out.csv === undefined ? undefined : new TextFile(out.csv);
  const parts = (out.jsonlParts ?? []).map((p) => new TextFile(p));
  const perPart = parts.length === 0 ? 0 : Math.ceil(rows / parts.length);
  json?.write('{"rows":[\n');
  csv?.write('id,vector,tag\n');
  for (let i = 0; i < rows; i++) {
    const v = vectorText(i);
    const tag = tagOf(i);
    const line = `{"id":${i},"vector":${v},"tag":"${tag}"}`;
    jsonl?.write(`${line}\n`);
    json?.write(i === 0 ? line : `,\n${line}`);
    csv?.write(`${i},"${v}",${tag}\n`);
    if (parts.length > 0) parts[Math.floor(i / perPart)]!.write(`${line}\n`);
  }
  json?.write('\n]}\n');
  for (const f of [jsonl, json, csv, ...parts]) f?.close();
}

/** Rows of ~`bytes` bytes of JSONL/JSON/CSV (the vector text dominates; measured on row 0). */
export function rowsForTextBytes(bytes: number): number {
  return Math.max(1, Math.round(bytes / (vectorText(1).length + 60)));
}

const NUMPY_PY = `
import numpy as np, os, sys
first, n, d, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(out, exist_ok=True)
mask = np.uint64(0xFFFFFFFF)
ids = np.lib.format.open_memmap(out + '/id.npy.tmp', mode='w+', dtype='<i8', shape=(n,))
tags = np.lib.format.open_memmap(out + '/tag.npy.tmp', mode='w+', dtype='<U16', shape=(n,))
vec = np.lib.format.open_memmap(out + '/vector.npy.tmp', mode='w+', dtype='<f4', shape=(n, d))
for s in range(0, n, 65536):
    e = min(n, s + 65536)
    i = np.arange(first + s, first + e, dtype=np.uint64)
    ids[s:e] = i.astype(np.int64)
    tags[s:e] = np.char.add('item-', np.char.zfill(i.astype(str), 11))
    x = (i * np.uint64(2654435761)) & mask
    block = np.empty((e - s, d), dtype=np.float32)
    for k in range(d):
        x = (x * np.uint64(1664525) + np.uint64(1013904223)) & mask
        block[:, k] = (x.astype(np.float64) / 4294967296.0 - 0.5).astype(np.float32)
    vec[s:e] = block
for a in (ids, tags, vec):
    a.flush()
del ids, tags, vec
for f in ('id', 'tag', 'vector'):
    os.replace(out + '/' + f + '.npy.tmp', out + '/' + f + '.npy')
`;

/** id.npy, vector.npy, tag.npy for rows [first, first + n), written by numpy (memory-mapped, streamed). */
export function writeNumpyGroup(dir: string, first: number, n: number): void {
  execFileSync('python3', ['-c', NUMPY_PY, String(first), String(n), String(DIM), dir], { stdio: 'inherit' });
}

/** DuckDB is loaded only where it is used. */
function loadDuckDb(): Promise<typeof import('@duckdb/node-api')> {
  return import('@duckdb/node-api');
}

/**
 * Parquet written by DuckDB with its default row groups, from the JSONL of the same rows (so every
 * format holds identical values), or, with `rows`, that many rows of random vectors (--large).
 */
export async function writeParquet(path: string, source: { jsonl: string } | { rows: number }): Promise<void> {
  mkdirSync(join(path, '..'), { recursive: true });
  const { DuckDBInstance } = await loadDuckDb();
  const inst = await DuckDBInstance.create(':memory:', {
    memory_limit: '1GB',
    threads: '2',
    preserve_insertion_order: 'false',
  });
  const c = await inst.connect();
  const select =
    'jsonl' in source
      ? `SELECT id, vector, tag FROM read_json('${source.jsonl}', format = 'newline_delimited',
           columns = {id: 'BIGINT', vector: 'FLOAT[]', tag: 'VARCHAR'}, maximum_object_size = 1048576)`
      : `SELECT i::BIGINT AS id, list_transform(range(${DIM}), x -> (random() - 0.5)::FLOAT) AS vector,
                'item-' || lpad(i::VARCHAR, 11, '0') AS tag FROM range(${source.rows}) t(i)`;
  await c.run(`COPY (${select}) TO '${path}.tmp' (FORMAT parquet)`);
  c.closeSync();
  inst.closeSync();
  renameSync(`${path}.tmp`, path);
}

export function exists(...paths: string[]): boolean {
  return paths.every((p) => existsSync(p));
}

/** Serves files under `root` on 127.0.0.1 with Range (206/416), ETag and If-Match (412). */
export class DiskHttpServer {
  private server?: http.Server;
  private port = 0;
  constructor(private readonly root: string) {}

  url(path: string): string {
    return `http://127.0.0.1:${this.port}/${path.split(sep).map(encodeURIComponent).join('/')}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((ok) => s.close(() => ok()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const rel = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^[/\\]+/, '');
    const file = join(this.root, rel);
    if (rel.startsWith('..') || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const st = statSync(file);
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== etag) {
      res.writeHead(412).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      etag,
      'last-modified': st.mtime.toUTCString(),
      'accept-ranges': 'bytes',
    };
    let start = 0;
    let end = st.size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m === null) {
        res.writeHead(400).end();
        return;
      }
      start = Number(m[1]);
      end = m[2] === '' ? st.size - 1 : Math.min(Number(m[2]), st.size - 1);
      if (start >= st.size) {
        res.writeHead(416, { 'content-range': `bytes */${st.size}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${st.size}`;
    }
    headers['content-length'] = end - start + 1;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || end < start) {
      res.end();
      return;
    }
    const body = createReadStream(file, { start, end, highWaterMark: 1 << 20 });
    body.on('error', () => res.destroy());
    res.on('close', () => body.destroy());
    body.pipe(res);
  }
}
