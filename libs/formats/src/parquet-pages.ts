import type { ColumnMetaData, DecodedArray, FileMetaData, ParquetParsers, SchemaTree } from 'hyparquet';
import { assembleLists, assembleNested } from 'hyparquet/src/assemble.js';
import { parquetHeader, readPage } from 'hyparquet/src/column.js';
import { convert, DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { decompressPage } from 'hyparquet/src/datapage.js';
import { deltaBinaryUnpack, deltaByteArray, deltaLengthByteArray } from 'hyparquet/src/delta.js';
import { byteStreamSplit } from 'hyparquet/src/encoding.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getTreePath } from 'hyparquet/src/schema.js';
import type { Compressors } from 'hyparquet';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import type { ByteInput } from './byte-input';
import { DEFAULT_MAX_PAGE_BYTES, MAX_DECOMPRESSION_RATIO, RATIO_FREE_BYTES } from './limits';
import { allLevelsAre, readLevels, regularRepetition, type Levels } from './parquet-levels';
import { PageSink } from './page-sink';
import { SnappyStreamDecoder } from './snappy-stream';
import { ZstdFrameWalker, zstdWindowLimit } from './bounded-decompress';

/**
 * Page-at-a-time Parquet decoding (docs/decisions/0204-parquet-page-streaming.md).
 *
 * hyparquet's `parquetRead` decodes a whole column chunk per row group, and for nested columns
 * (list<float> vectors) it cannot skip pages, so memory follows the row-group size (≈1.1 GB for
 * DuckDB's 122,880-row groups of 128-d vectors). Here each leaf column chunk is read through a
 * bounded read-ahead window and decoded page by page with hyparquet's own page decoder, and the
 * leaves of a top-level column are assembled window by window with hyparquet's `assembleNested` —
 * the same decoding as `parquetRead`, with memory bounded by the window and one page per column.
 */

type ColumnDecoder = Parameters<typeof readPage>[2];
type PageHeader = ReturnType<typeof parquetHeader>;

/** Thrown for structural problems (row counts, page bounds); the reader maps it to a Corrupt error. */
export class ParquetStructureError extends Error {}

/**
 * A size a page declares (bytes, values) that is past its column chunk, past a sane decompression
 * ratio or past IMPORT_MAX_PAGE_BYTES: refused before anything of that size is allocated.
 */
export class ParquetDeclaredSizeError extends ParquetStructureError {}

/**
 * Decompressed page bytes the leaf columns of one row group may hold at once (IMPORT_MAX_PAGE_BYTES):
 * each leaf keeps a page (and a reused page buffer) of its own, so a per-page bound alone would
 * be multiplied by the number of columns a file declares.
 */
export class PageBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** A leaf's holding grows from `had` to `want` bytes; refused past the limit. */
  grow(had: number, want: number, refuse: (held: number) => never): void {
    if (want <= had) return;
    if (this.used - had + want > this.limit) refuse(this.used - had);
    this.used += want - had;
  }
}

/** A failure while decoding one top-level column, so the reader can name the field. */
export class ParquetColumnError extends Error {
  constructor(
    readonly column: string,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** Bytes a page header can need before we give up growing the window (headers carry statistics). */
const MAX_PAGE_HEADER_BYTES = 16 << 20;

/** Least bytes a PLAIN value of the type takes (a BYTE_ARRAY its 4-byte length; booleans 1 bit). */
function plainValueBytes(decoder: ColumnDecoder): number {
  switch (decoder.type) {
    case 'BOOLEAN':
      return 1 / 8;
    case 'INT32':
    case 'FLOAT':
    case 'BYTE_ARRAY':
      return 4;
    case 'INT64':
    case 'DOUBLE':
      return 8;
    case 'INT96':
      return 12;
    case 'FIXED_LEN_BYTE_ARRAY':
      return Math.max(1, decoder.element.type_length ?? 1);
  }
}

/**
 * Bytes decoding may allocate per declared value: two level arrays (1 byte each) and, unless the
 * values are PLAIN numbers read in place from the page, up to 8 more (dictionary indices, a
 * decoded typed array or a JS array slot for booleans and byte arrays).
 */
function bytesPerDeclaredValue(header: PageHeader, decoder: ColumnDecoder): number {
  const encoding = header.data_page_header?.encoding ?? header.data_page_header_v2?.encoding;
  return encoding === 'PLAIN' && decoder.type !== 'BOOLEAN' ? 2 : 10;
}

/** Above this declared size a ZSTD/SNAPPY/GZIP page is streamed into the reused page buffer. */
const STREAM_PAGES_ABOVE = 8 << 20;

function bitWidth(value: number): number {
  return 32 - Math.clz32(value);
}

/**
 * Level arrays, reused from page to page of a column (levels are only read while their page is
 * current), so a large page does not allocate two fresh level arrays each time.
 */
class LevelBuffers {
  private readonly held: [Levels | null, Levels | null] = [null, null];

  get(slot: 0 | 1, max: number, n: number): Levels {
    const wide = max >= 256;
    const have = this.held[slot];
    if (have !== null && have.length >= n && have instanceof Uint32Array === wide) return have.subarray(0, n);
    const fresh = wide ? new Uint32Array(n) : new Uint8Array(n);
    this.held[slot] = fresh;
    return fresh;
  }
}

/** hyparquet's assembly reads levels by index and length only, so typed arrays serve as well. */
function asLevels(l: Levels | null): number[] | undefined {
  return l === null ? undefined : (l as unknown as number[]);
}

/**
 * One data page with its levels in typed arrays (1–2 bytes per value instead of hyparquet's 8-byte
 * array slots) and its values still raw (dictionary indices or plain values): rows are assembled
 * and converted a window at a time.
 */
interface PageState {
  readonly numLevels: number;
  /** null with no repetition levels, or when they are implicit (then `stride` > 0: repAt). */
  readonly rep: Levels | null;
  /** null when the column has no definition levels or the page has no nulls. */
  readonly def: Levels | null;
  readonly values: PageValues;
  /** Rows starting in the page (repetition level 0), when it has repetition levels. */
  readonly rows: number;
  /**
   * Levels per row when every row has the same count, else 0: set at decode when the levels are
   * implicit (`rep` null), else by acceptDataPage for the list<float> fast path (no null element).
   */
  stride: number;
  levelAt: number;
  valueAt: number;
}

/**
 * A page's values: `plain` ones stay in the page bytes and are read per window (sequentially);
 * dictionary indices are kept as int32; other encodings are decoded at once.
 */
type PageValues =
  | { readonly kind: 'plain'; readonly reader: { view: DataView; offset: number } }
  | { readonly kind: 'dictionary'; readonly indices: Uint32Array }
  | { readonly kind: 'decoded'; readonly values: DecodedArray };

/** Values of a data page, raw; the switch mirrors hyparquet's readDataPage/readDataPageV2. */
function readValues(
  reader: { view: DataView; offset: number },
  encoding: string,
  nValues: number,
  decoder: ColumnDecoder,
  v2: boolean,
): PageValues {
  const { type, element } = decoder;
  switch (encoding) {
    case 'PLAIN':
      // Booleans are bit-packed across window boundaries, so they are decoded at once.
      if (type === 'BOOLEAN') return { kind: 'decoded', values: readPlain(reader, type, nValues, undefined) };
      return { kind: 'plain', reader };
    case 'RLE':
    case 'PLAIN_DICTIONARY':
    case 'RLE_DICTIONARY': {
      if (type === 'BOOLEAN') {
        const bits = new Uint8Array(nValues);
        readLevels(reader, 1, bits);
        return { kind: 'decoded', values: Array.from(bits, (b) => b !== 0) };
      }
      const width = reader.view.getUint8(reader.offset++);
      // Our hybrid decoder, not hyparquet's: its RLE runs are clamped to the output, where
      // hyparquet's loops over a declared run of up to 2^31 values writing past the array.
      const indices = new Uint32Array(nValues);
      if (width) readLevels(reader, width, indices, reader.view.byteLength - reader.offset);
      return { kind: 'dictionary', indices };
    }
    case 'BYTE_STREAM_SPLIT':
      return { kind: 'decoded', values: byteStreamSplit(reader, nValues, type, element.type_length) };
    case 'DELTA_BINARY_PACKED': {
      const out = type === 'INT32' ? new Int32Array(nValues) : new BigInt64Array(nValues);
      deltaBinaryUnpack(reader, nValues, out);
      return { kind: 'decoded', values: out };
    }
    case 'DELTA_LENGTH_BYTE_ARRAY': {
      const out = new Array<Uint8Array>(nValues);
      deltaLengthByteArray(reader, nValues, out);
      return { kind: 'decoded', values: out };
    }
    case 'DELTA_BYTE_ARRAY': {
      const out = new Array<Uint8Array>(nValues);
      deltaByteArray(reader, nValues, out);
      return { kind: 'decoded', values: out };
    }
    default:
      throw new Error(`parquet unsupported encoding${v2 ? ' (data page v2)' : ''}: ${encoding}`);
  }
}

/**
 * The row length when every row of the page has the same number of levels (the rows of a
 * FloatVector column: rep levels 0,1,…,1 per row), else 0. `rows` is the count of repetition
 * level 0 (readLevels counted it): when there are exactly that many and each sits at a multiple of
 * numLevels / rows, every row has that length. One read per row, not one per level.
 */
export function regularRowLength(rep: Levels, numLevels: number, rows: number): number {
  if (rows === 0 || numLevels % rows !== 0) return 0;
  const stride = numLevels / rows;
  for (let at = 0; at < numLevels; at += stride) if (rep[at] !== 0) return 0;
  return stride;
}

/**
 * Whether the page's values are floats the list<float> fast path can view: PLAIN ones still in the
 * page bytes, or BYTE_STREAM_SPLIT ones (DuckDB's PARQUET_VERSION V2) already decoded into a typed
 * array of the page's own.
 */
function floatValuesOf(page: PageState): boolean {
  const v = page.values;
  return (
    v.kind === 'plain' ||
    (v.kind === 'decoded' && (v.values instanceof Float32Array || v.values instanceof Float64Array))
  );
}

/**
 * A page's definition levels, and how many are at the maximum (values present). Levels that are
 * all at the maximum (no null in the page) are seen from their run headers and not decoded: for a
 * vector column that is one byte per float (15 MB for a 122,880-row page of 128-d) not held.
 */
function readDefinitionLevels(
  reader: { view: DataView; offset: number },
  maxDef: number,
  numLevels: number,
  levels: LevelBuffers,
  length?: number,
): { def: Levels | null; present: number } {
  const width = bitWidth(maxDef);
  if (allLevelsAre(reader, width, numLevels, maxDef, length)) return { def: null, present: numLevels };
  const def = levels.get(1, maxDef, numLevels);
  return { def, present: readLevels(reader, width, def, length, maxDef) };
}

/** Whether the page has repetition levels (in an array or implicit). */
function hasRepetition(page: PageState): boolean {
  return page.rep !== null || page.stride > 0;
}

/** The repetition level at `i` of a page that has them. */
function repAt(page: PageState, i: number): number {
  return page.rep !== null ? page.rep[i]! : i % page.stride === 0 ? 0 : 1;
}

/** Repetition levels [from, to) as an array (hyparquet's assembly), or null without them. */
function repRange(page: PageState, from: number, to: number): Levels | null {
  if (page.rep !== null || page.stride === 0) return page.rep?.subarray(from, to) ?? null;
  const out = new Uint8Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = repAt(page, i);
  return out;
}

/** Decodes a data page (v1 or v2) into a PageState. */
/** `bytes` is the page as stored, or already decompressed (`decompressed`, see streamPage). */
function decodeDataPage(
  bytes: Uint8Array,
  header: PageHeader,
  decoder: ColumnDecoder,
  decompressed: boolean,
  levels: LevelBuffers,
  vectorColumn: boolean,
): PageState {
  const compressed = bytes;
  const maxRep = getMaxRepetitionLevel(decoder.schemaPath);
  const maxDef = getMaxDefinitionLevel(decoder.schemaPath);
  let repetition: Repetition = NO_REPETITION;
  let def: Levels | null = null;
  let numNulls = 0;
  /** Values present (definition level = max). */
  let present = 0;
  let reader: { view: DataView; offset: number };
  let numLevels: number;
  let encoding: string;
  const v1 = header.data_page_header;
  const v2 = header.data_page_header_v2;
  if (header.type === 'DATA_PAGE' && v1 !== undefined) {
    numLevels = v1.num_values;
    encoding = v1.encoding;
    const page = decompressed
      ? bytes
      : decompressPage(compressed, header.uncompressed_page_size, decoder.codec, decoder.compressors);
    reader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
    if (maxRep > 0) repetition = readRepetitionLevels(reader, maxRep, numLevels, levels, vectorColumn);
    if (maxDef > 0) ({ def, present } = readDefinitionLevels(reader, maxDef, numLevels, levels));
  } else if (header.type === 'DATA_PAGE_V2' && v2 !== undefined) {
    numLevels = v2.num_values;
    encoding = v2.encoding;
    const levelsReader = {
      view: new DataView(compressed.buffer, compressed.byteOffset, compressed.byteLength),
      offset: 0,
    };
    if (maxRep > 0)
      repetition = readRepetitionLevels(
        levelsReader,
        maxRep,
        numLevels,
        levels,
        vectorColumn,
        v2.repetition_levels_byte_length,
      );
    levelsReader.offset = v2.repetition_levels_byte_length;
    if (maxDef > 0)
      ({ def, present } = readDefinitionLevels(
        levelsReader,
        maxDef,
        numLevels,
        levels,
        v2.definition_levels_byte_length,
      ));
    const levelBytes = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
    let page = compressed.subarray(levelBytes);
    if (v2.is_compressed !== false && !decompressed)
      page = decompressPage(page, header.uncompressed_page_size - levelBytes, decoder.codec, decoder.compressors);
    reader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
  } else throw new ParquetStructureError(`data page without its header (${header.type})`);
  if (def !== null) {
    numNulls = numLevels - present;
    if (numNulls === 0) def = null;
  }
  const values = readValues(reader, encoding, numLevels - numNulls, decoder, header.type === 'DATA_PAGE_V2');
  const { rep, rows, stride } = repetition;
  return { numLevels, rep, def, values, rows, stride, levelAt: 0, valueAt: 0 };
}

/** A page's repetition levels: in an array, or implicit (rep null, regular rows of `stride` levels). */
interface Repetition {
  readonly rep: Levels | null;
  /** Levels that start a row (repetition level 0). */
  readonly rows: number;
  readonly stride: number;
}

const NO_REPETITION: Repetition = { rep: null, rows: 0, stride: 0 };

/**
 * Repetition levels. Those of a vector column whose rows all have one length (0 then 1s, the
 * FloatVector case) are recognised from their encoding and not decoded — 15 MB less for a 128-d
 * page of 122,880 rows; readers of the page get them from repAt/repRange.
 */
function readRepetitionLevels(
  reader: { view: DataView; offset: number },
  maxRep: number,
  numLevels: number,
  levels: LevelBuffers,
  vectorColumn: boolean,
  length?: number,
): Repetition {
  if (vectorColumn && maxRep === 1) {
    const stride = regularRepetition(reader, numLevels, length);
    if (stride > 0) return { rep: null, rows: numLevels / stride, stride };
  }
  const rep = levels.get(0, maxRep, numLevels);
  return { rep, rows: readLevels(reader, bitWidth(maxRep), rep, length, 0), stride: 0 };
}

/** A streamed page being decompressed (LeafColumnCursor.streamPage). */
interface PagePump {
  /** The decompressed page, whole or a sliding window of it; v2 levels (stored as they are) first. */
  readonly out: PageSink;
  /** Bytes of v2 levels copied in front, of `raw`. */
  readonly raw: number;
  copied: number;
  readonly decoder: StreamingDecompressor;
  /** The values' reader of a page taken progressively from a sliding window (kept pointing into it). */
  reader: { view: DataView; offset: number } | null;
  /** Byte of the file where the page's stored bytes end. */
  readonly stop: number;
  /** Stored bytes read but not yet fed to the decoder. */
  rest: Uint8Array;
}

/**
 * Whether a streamed page's values may be decompressed as its rows are taken (pumpFor): PLAIN values
 * of rows of one length without nulls, so the bytes a take needs follow from its row count.
 */
function takenProgressively(page: PageState): boolean {
  return page.values.kind === 'plain' && page.stride > 0 && page.def === null;
}

/** Stored bytes fed to a streamed page's decoder at a time: the grain of progressive decoding. */
const PUMP_STEP = 1 << 20;

/**
 * Stored bytes of a streamed page read at a time (at most the read-ahead): a progressive page's
 * rows are encoded while its next bytes are held, so this adds to the worker's peak directly.
 */
const PUMP_READ = 4 << 20;

/**
 * First window of a page that may be taken progressively (streamPage): it grows to a take's
 * values plus a pump step if a take needs more, and to the whole page if the page is not taken so.
 */
const WINDOW_START = 4 << 20;

/** Codecs whose large pages are decompressed while their bytes stream in (see streamPage). */
const STREAMED_CODECS = new Set(['ZSTD', 'SNAPPY', 'GZIP']);

/** Writes what it decompresses into its PageSink (whose `written` counts it). */
interface StreamingDecompressor {
  push(chunk: Uint8Array, final: boolean): void | Promise<void>;
}

/**
 * An incremental decompressor of `codec` writing `size` bytes into `sink` (after what it holds);
 * `overflow` throws past them.
 */
function streamingDecompressor(
  codec: string,
  sink: PageSink,
  size: number,
  overflow: () => never,
): StreamingDecompressor {
  if (codec === 'SNAPPY') return new SnappyStreamDecoder(sink, size);
  let written = 0;
  const put = (chunk: Uint8Array): void => {
    if (written + chunk.length > size) overflow();
    sink.write(chunk);
    written += chunk.length;
  };
  if (codec === 'ZSTD') {
    const zstd = new ZstdDecompress(put);
    // fzstd allocates each frame's window as declared: frames are checked before they reach it.
    const frames = new ZstdFrameWalker(size, zstdWindowLimit(size));
    return {
      push: (chunk, final) => {
        frames.push(chunk);
        zstd.push(chunk, final);
      },
    };
  }
  // GZIP: zlib's streaming inflater. A failure (corrupt data, or output past the sink) destroys it
  // with the error, which every pending wait observes; a write's callback alone may never come.
  const gunzip = createGunzip();
  const failed = new Promise<never>((_, reject) => gunzip.once('error', reject));
  failed.catch(() => undefined); // observed by the next push; never an unhandled rejection
  const ended = new Promise<void>((resolve) => gunzip.once('end', resolve));
  gunzip.on('data', (chunk: Buffer) => {
    try {
      put(chunk);
    } catch (e) {
      gunzip.destroy(e instanceof Error ? e : new Error(String(e)));
    }
  });
  return {
    async push(chunk, final) {
      const written = new Promise<void>((resolve) => gunzip.write(chunk, () => resolve()));
      await Promise.race([written, failed]);
      if (final) {
        gunzip.end();
        await Promise.race([ended, failed]);
      }
    },
  };
}

/**
 * For a single list of FLOAT/DOUBLE without conversions: how many containers hyparquet's assembly
 * opens for a non-null row (one per non-REQUIRED level between the column and its leaf); else 0.
 */
function plainFloatListWraps(decoder: ColumnDecoder): number {
  const leaf = decoder.element;
  if (decoder.type !== 'FLOAT' && decoder.type !== 'DOUBLE') return 0;
  if (leaf.logical_type !== undefined || leaf.converted_type !== undefined) return 0;
  const path = decoder.schemaPath;
  let wraps = 0;
  for (let d = 1; d <= path.length - 2; d++) if (path[d]!.element.repetition_type !== 'REQUIRED') wraps++;
  return wraps;
}

/**
 * Rows of one leaf column chunk, read through a bounded window of bytes and decoded page by page.
 * `take(n)` assembles exactly the next `n` rows (hyparquet's Dremel assembly, on a level range).
 */
export class LeafColumnCursor {
  readonly pathKey: string;
  private readonly end: number;
  private readonly maxDef: number;
  private readonly nested: boolean;
  /** > 0 when rows may take the list<float> fast path: the containers assembly would nest them in. */
  private readonly vectorWraps: number;
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart: number;
  private pos: number;
  private dictionary: DecodedArray | undefined;
  private page: PageState | null = null;
  /** Assembled rows not yet taken. */
  private ready: unknown[] = [];
  /** The last ready row ended a page and may be continued by the next one (data page v1). */
  private lastOpen = false;
  /** Buffer that large pages are decompressed into, reused (see pageBuffer). */
  private scratch: Uint8Array | null = null;
  /** The streamed page still being decompressed (see streamPage), if any. */
  private pump: PagePump | null = null;
  private readonly levels = new LevelBuffers();
  /** Largest decompressed page this leaf held (its share of the row group's PageBudget). */
  private holding = 0;
  /** Buffer for unaligned PLAIN floats (plainFloats), and the take that last filled it. */
  private aligned: ArrayBuffer | null = null;
  private alignedTake = -1;
  private takes = 0;

  constructor(
    private readonly input: ByteInput,
    private readonly decoder: ColumnDecoder,
    startByte: number,
    endByte: number,
    private readonly readAhead: number,
    private readonly countBytes: (n: number) => void,
    private readonly limits: PageLimits = { maxPageBytes: 2 ** 31 - 1, rows: Infinity },
  ) {
    this.pathKey = decoder.pathInSchema.join('.');
    this.bufStart = startByte;
    this.pos = startByte;
    this.end = Math.min(endByte, input.byteLength);
    this.maxDef = getMaxDefinitionLevel(decoder.schemaPath);
    const maxRep = getMaxRepetitionLevel(decoder.schemaPath);
    this.nested = maxRep > 0;
    this.vectorWraps = maxRep === 1 ? plainFloatListWraps(decoder) : 0;
  }

  /** Bytes of the buffer large pages are decompressed into (see pageBuffer). */
  get pageBufferBytes(): number {
    return this.scratch?.length ?? 0;
  }

  private get complete(): number {
    return this.ready.length - (this.lastOpen ? 1 : 0);
  }

  async take(n: number): Promise<DecodedArray> {
    this.takes++;
    if (!this.nested && this.ready.length === 0) {
      // A flat column without nulls: the page's values are the rows, handed out as decoded
      // (a typed array for numbers) without hyparquet's assembly or a copy into `ready`.
      while (this.page === null && this.pos < this.end) await this.readNextPage();
      const page = this.page;
      if (page !== null && page.def === null && page.numLevels - page.levelAt >= n) {
        const values = this.convertValues(page, page.valueAt, page.valueAt + n);
        page.levelAt += n;
        page.valueAt += n;
        if (page.levelAt >= page.numLevels) this.page = null;
        return values;
      }
    }
    while (this.complete < n) {
      const page = this.page;
      if (page !== null && page.levelAt < page.numLevels) {
        await this.pumpFor(page, n - this.complete);
        this.assemble(page, n - this.complete);
      } else if (this.pos < this.end) await this.readNextPage();
      else {
        this.lastOpen = false;
        if (this.complete < n)
          throw new ParquetStructureError(
            `column '${this.pathKey}' ends ${n - this.complete} rows before the row count in the footer`,
          );
      }
    }
    return this.ready.splice(0, n);
  }

  /** After the row group's rows are taken: no rows or pages may remain. */
  async finish(): Promise<void> {
    await this.finishPump(); // the last page's bytes are checked even when its rows are all taken
    let extra = this.ready.length;
    for (;;) {
      const page = this.page;
      if (page !== null && page.levelAt < page.numLevels) {
        extra += hasRepetition(page) ? 1 : page.numLevels - page.levelAt;
        break;
      }
      if (this.pos >= this.end) break;
      await this.readNextPage();
      extra += this.ready.length;
      this.ready = [];
    }
    if (extra > 0) throw new ParquetStructureError(`column '${this.pathKey}' has more rows than the footer says`);
  }

  /** Assembles up to `want` rows from the page into `ready`. */
  private assemble(page: PageState, want: number): void {
    const from = page.levelAt;
    let to: number;
    if (!hasRepetition(page)) to = Math.min(page.numLevels, from + want);
    else if (page.stride > 0) to = Math.min(page.numLevels, from + want * page.stride);
    else {
      // Rows start at repetition level 0; `from` is always at one.
      let rows = 1;
      to = from + 1;
      for (; to < page.numLevels; to++) {
        if (repAt(page, to) === 0) {
          if (rows === want) break;
          rows++;
        }
      }
    }
    this.pushRange(page, from, to, this.ready);
    this.lastOpen = this.nested && page.levelAt >= page.numLevels;
    if (page.levelAt >= page.numLevels) this.page = null;
  }

  /** Assembles levels [from, to) of the page onto `output` (appending rows or continuing its last). */
  private pushRange(page: PageState, from: number, to: number, output: unknown[]): void {
    if (
      this.vectorWraps > 0 &&
      page.def === null &&
      floatValuesOf(page) &&
      hasRepetition(page) &&
      repAt(page, from) === 0 // not the continuation of a row from the previous page
    ) {
      // The last row of a page may be continued by the next one: it takes the general path.
      let lastStart = to - (page.stride > 0 ? page.stride : 1);
      while (lastStart > from && repAt(page, lastStart) !== 0) lastStart--;
      const end = to === page.numLevels ? lastStart : to;
      if (end > from) this.pushVectors(page, from, end, output);
      if (end === to) return;
      from = end;
    }
    let count = to - from;
    if (page.def !== null) {
      count = 0;
      for (let i = from; i < to; i++) if (page.def[i] === this.maxDef) count++;
    }
    const values = this.convertValues(page, page.valueAt, page.valueAt + count);
    const assembled = assembleLists(
      output,
      asLevels(page.def?.subarray(from, to) ?? null),
      asLevels(repRange(page, from, to)) ?? [],
      values,
      this.decoder.schemaPath,
    );
    // Without levels hyparquet returns the values themselves instead of appending.
    if (assembled !== output) for (let i = 0; i < assembled.length; i++) output.push(assembled[i]);
    page.levelAt = to;
    page.valueAt += count;
  }

  /**
   * Fast path for list<float|double> rows with no nulls in the page: each row is a typed-array view
   * of the page's values, wrapped as hyparquet's assembly would wrap it (assembleNested unwraps it).
   */
  private pushVectors(page: PageState, from: number, to: number, output: unknown[]): void {
    const v = page.values;
    let values: Float32Array | Float64Array;
    if (v.kind === 'plain') values = this.plainFloats(v.reader, to - from);
    else if (v.kind === 'decoded' && (v.values instanceof Float32Array || v.values instanceof Float64Array))
      values = v.values.subarray(page.valueAt, page.valueAt + to - from);
    else throw new ParquetStructureError(`column '${this.pathKey}': no float values for the vector path`);
    const stride = page.stride;
    const wraps = this.vectorWraps;
    if (stride > 0) {
      for (let start = 0, end = to - from; start < end; start += stride) {
        let row: unknown = values.subarray(start, start + stride);
        for (let w = 1; w < wraps; w++) row = [row];
        output.push(row);
      }
    } else {
      let start = from;
      for (let i = from + 1; i <= to; i++) {
        if (i === to || repAt(page, i) === 0) {
          let row: unknown = values.subarray(start - from, i - from);
          for (let w = 1; w < wraps; w++) row = [row];
          output.push(row);
          start = i;
        }
      }
    }
    page.levelAt = to;
    page.valueAt += to - from;
  }

  /**
   * `count` PLAIN floats/doubles at the reader: a view on the page when aligned, else a copy into a
   * buffer reused from take to take (hyparquet's readPlain allocates a fresh one per window). Rows
   * handed out by a take are the caller's to copy before the next take, as for the page buffer.
   */
  private plainFloats(reader: { view: DataView; offset: number }, count: number): Float32Array | Float64Array {
    const double = this.decoder.type === 'DOUBLE';
    const width = double ? 8 : 4;
    const at = reader.view.byteOffset + reader.offset;
    if (at + count * width > reader.view.byteOffset + reader.view.byteLength)
      throw new ParquetStructureError(`column '${this.pathKey}': values run past the page`);
    reader.offset += count * width;
    if (at % width === 0)
      return double ? new Float64Array(reader.view.buffer, at, count) : new Float32Array(reader.view.buffer, at, count);
    let held = this.aligned;
    if (held === null || held.byteLength < count * width || this.alignedTake === this.takes) {
      // A fresh buffer when this take already used the held one (a take that spans two pages).
      held = new ArrayBuffer(Math.max(count * width, held === null ? 0 : held.byteLength));
      this.aligned = held;
    }
    this.alignedTake = this.takes;
    new Uint8Array(held, 0, count * width).set(new Uint8Array(reader.view.buffer, at, count * width));
    return double ? new Float64Array(held, 0, count) : new Float32Array(held, 0, count);
  }

  private convertValues(page: PageState, from: number, to: number): DecodedArray {
    const v = page.values;
    if (v.kind === 'plain') {
      // Plain values are read window by window, in order, straight from the page bytes.
      const { type, element } = this.decoder;
      return convert(readPlain(v.reader, type, to - from, element.type_length), this.decoder);
    }
    if (v.kind === 'dictionary') {
      const dict = this.dictionary;
      if (dict === undefined) throw new ParquetStructureError(`column '${this.pathKey}': dictionary page missing`);
      const idx = v.indices;
      const out = new Array<unknown>(to - from);
      for (let i = from; i < to; i++) {
        const k = idx[i]!;
        if (k >= dict.length)
          throw new ParquetStructureError(`column '${this.pathKey}': dictionary index ${k} out of range`);
        out[i - from] = dict[k];
      }
      return out;
    }
    return convert(v.values.slice(from, to), this.decoder);
  }

  /** Make [pos, pos + need) resident, reading ahead up to `readAhead` bytes. */
  private async ensure(need: number): Promise<void> {
    const have = this.bufStart + this.buf.length;
    const want = Math.min(this.end, this.pos + need);
    if (want <= have) return;
    const fetchFrom = Math.max(have, this.pos);
    const fetchTo = Math.min(this.end, Math.max(want, this.pos + this.readAhead));
    const got = await this.input.slice(fetchFrom, fetchTo);
    this.countBytes(got.length);
    if (this.pos >= have) {
      this.buf = got;
    } else {
      // A fresh buffer, never a write into the old one: decoded values may be views on it.
      const keep = this.buf.subarray(this.pos - this.bufStart);
      const next = new Uint8Array(keep.length + got.length);
      next.set(keep, 0);
      next.set(got, keep.length);
      this.buf = next;
    }
    this.bufStart = this.pos;
  }

  private reader(): { view: DataView; offset: number } {
    return {
      view: new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength),
      offset: this.pos - this.bufStart,
    };
  }

  private async readNextPage(): Promise<void> {
    if (this.pump !== null) {
      // The page before was decompressed only as far as its rows were taken: finish it first.
      await this.finishPump();
      if (this.pos >= this.end) return;
    }
    let headerBytes = Math.min(64 << 10, this.readAhead);
    const headerAt = this.pos;
    let header: PageHeader;
    for (;;) {
      await this.ensure(headerBytes);
      const reader = this.reader();
      try {
        header = parquetHeader(reader);
        this.pos = this.bufStart + reader.offset;
        break;
      } catch (e) {
        // hyparquet's thrift reader fails however the bytes run out; more bytes may fix it.
        const resident = this.bufStart + this.buf.length - this.pos;
        const atEnd = this.bufStart + this.buf.length >= this.end;
        if (atEnd || resident >= MAX_PAGE_HEADER_BYTES)
          throw new ParquetStructureError(
            `column '${this.pathKey}': unreadable page header at byte ${this.pos} (${(e as Error).message})`,
          );
        headerBytes = resident * 2;
      }
    }
    const size = header.compressed_page_size;
    if (!(size >= 0) || this.pos + size > this.end)
      throw new ParquetStructureError(`column '${this.pathKey}': page of ${size} bytes runs past the column chunk`);
    this.checkDeclaredSizes(header, headerAt, size);
    const compressedValues =
      header.type === 'DATA_PAGE' ||
      (header.type === 'DATA_PAGE_V2' && header.data_page_header_v2?.is_compressed !== false);
    if (
      STREAMED_CODECS.has(this.decoder.codec) &&
      (size > this.readAhead || header.uncompressed_page_size > STREAM_PAGES_ABOVE) &&
      compressedValues
    ) {
      await this.streamPage(header, size);
      return;
    }
    await this.ensure(size);
    const at = this.pos - this.bufStart;
    const compressed = this.buf.subarray(at, at + size);
    this.pos += size;
    // Let the compressed bytes go once nothing more is buffered behind them.
    if (this.pos >= this.bufStart + this.buf.length) {
      this.buf = new Uint8Array(0);
      this.bufStart = this.pos;
    }
    if (header.type === 'DICTIONARY_PAGE') {
      const d = header.dictionary_page_header;
      if (d === undefined) throw new ParquetStructureError(`column '${this.pathKey}': dictionary page without header`);
      const page = decompressPage(
        compressed,
        header.uncompressed_page_size,
        this.decoder.codec,
        this.decoder.compressors,
      );
      const raw = readPlain(
        { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 },
        this.decoder.type,
        d.num_values,
        this.decoder.element.type_length,
      );
      this.dictionary = convert(raw, this.decoder);
      return;
    }
    if (header.type !== 'DATA_PAGE' && header.type !== 'DATA_PAGE_V2') return; // index pages: skipped
    this.acceptDataPage(decodeDataPage(compressed, header, this.decoder, false, this.levels, this.vectorWraps > 0));
  }

  /**
   * Every size the page header declares, checked before it is allocated (decision 0801): stored
   * and decompressed bytes against IMPORT_MAX_PAGE_BYTES, the decompressed size against the
   * stored one (MAX_DECOMPRESSION_RATIO), value counts against what the page can hold.
   */
  private checkDeclaredSizes(header: PageHeader, headerAt: number, size: number): void {
    const at = `page at byte ${headerAt}`;
    const max = this.limits.maxPageBytes;
    const refuse = (problem: string): never => {
      throw new ParquetDeclaredSizeError(`${at} ${problem}`);
    };
    if (size > max) refuse(`declares ${size} stored bytes, more than IMPORT_MAX_PAGE_BYTES (${max})`);
    const raw = header.uncompressed_page_size;
    if (!(Number.isSafeInteger(raw) && raw >= 0)) refuse(`declares ${raw} bytes uncompressed`);
    if (raw > max) refuse(`declares ${raw} bytes uncompressed, more than IMPORT_MAX_PAGE_BYTES (${max})`);
    const v2 = header.data_page_header_v2;
    const compressed =
      this.decoder.codec !== 'UNCOMPRESSED' && !(header.type === 'DATA_PAGE_V2' && v2?.is_compressed === false);
    if (compressed && raw > RATIO_FREE_BYTES && raw > size * MAX_DECOMPRESSION_RATIO)
      refuse(
        `declares ${raw} bytes uncompressed from ${size} stored bytes, more than ${MAX_DECOMPRESSION_RATIO} times (a decompression bomb?)`,
      );
    const values =
      header.data_page_header?.num_values ?? v2?.num_values ?? header.dictionary_page_header?.num_values ?? 0;
    if (!(Number.isSafeInteger(values) && values >= 0)) refuse(`declares ${values} values`);
    const decodeBytes = values * bytesPerDeclaredValue(header, this.decoder);
    if (decodeBytes > max)
      refuse(`declares ${values} values (${decodeBytes} bytes to decode), more than IMPORT_MAX_PAGE_BYTES (${max})`);
    if (header.type === 'DICTIONARY_PAGE' && values * plainValueBytes(this.decoder) > raw)
      refuse(`declares ${values} dictionary values, more than its ${raw} bytes hold`);
    if (!this.nested && header.type !== 'DICTIONARY_PAGE' && values > this.limits.rows)
      refuse(`declares ${values} values, more than the ${this.limits.rows} rows of its row group`);
    if (v2 !== undefined && header.type === 'DATA_PAGE_V2') {
      const levelBytes = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
      if (!(levelBytes >= 0 && levelBytes <= size && levelBytes <= raw))
        refuse(`declares ${levelBytes} bytes of levels, more than the page holds`);
    }
    this.limits.budget?.grow(this.holding, raw, (held) =>
      refuse(
        `declares ${raw} bytes uncompressed while the other columns of its row group hold ${held}: more than IMPORT_MAX_PAGE_BYTES (${max}) at once`,
      ),
    );
    this.holding = Math.max(this.holding, raw);
  }

  /** Makes a decoded page current, first continuing the open row if the page starts mid-row. */
  private acceptDataPage(page: PageState): void {
    if (page.numLevels === 0) return;
    if (page.rep !== null && page.rep[0] !== 0) {
      // The page continues the last row of the previous page.
      const last = this.ready.length > 0 && this.lastOpen ? this.ready[this.ready.length - 1] : undefined;
      if (last === undefined)
        throw new ParquetStructureError(`column '${this.pathKey}': a page continues a row that was never started`);
      const next = page.rep.indexOf(0, 1);
      const c = next === -1 ? page.numLevels : next;
      this.pushRange(page, 0, c, [last]);
      this.lastOpen = c >= page.numLevels;
    } else this.lastOpen = false;
    if (this.vectorWraps > 0 && page.def === null && floatValuesOf(page) && page.rep !== null) {
      // Rows of a regular page are found by arithmetic; only a page that starts at a row can be.
      page.stride = page.levelAt === 0 ? regularRowLength(page.rep, page.numLevels, page.rows) : 0;
    }
    this.page = page.levelAt < page.numLevels ? page : null;
  }

  /**
   * A large ZSTD, SNAPPY or GZIP page is decompressed while its bytes stream in (readAhead at a time), so
   * the compressed page is never resident beside the decompressed one, into a buffer reused from
   * page to page (rows still pointing into it are copied out first); v2 levels, stored
   * uncompressed, are copied in front of the values.
   *
   * A page of float vectors whose rows all have one length and no nulls (FloatVector written by
   * DuckDB or pyarrow: one 65 MB page per 122,880 rows) is then decompressed only as far as its
   * rows are taken (pumpFor): its first rows reach the COPY after one piece instead of after the
   * whole page, so PostgreSQL is not left idle while the worker decompresses (issue 12). Any other
   * page is decompressed whole here.
   */
  private async streamPage(header: PageHeader, size: number): Promise<void> {
    const v2 = header.data_page_header_v2;
    const raw =
      header.type === 'DATA_PAGE_V2' && v2 !== undefined
        ? v2.repetition_levels_byte_length + v2.definition_levels_byte_length
        : 0;
    const total = header.uncompressed_page_size;
    // PLAIN only: other encodings are decoded when the page is (decodeDataPage → readValues).
    const progressive =
      this.vectorWraps > 0 && header.type === 'DATA_PAGE' && header.data_page_header?.encoding === 'PLAIN';
    // A page that may be taken progressively starts in a window, which slides once its levels show
    // it is (or grows to the whole page if not); any other page gets its whole size at once.
    const start = progressive ? this.pageBuffer(Math.min(total, WINDOW_START), true) : this.pageBuffer(total);
    const out = new PageSink(total, start, (drop) => this.windowMoved(drop));
    const decoder = streamingDecompressor(this.decoder.codec, out, total - raw, () => {
      throw new ParquetStructureError(`column '${this.pathKey}': page decompresses to more than its ${total} bytes`);
    });
    const pump: PagePump = {
      out,
      raw,
      copied: 0,
      decoder,
      stop: this.pos + size,
      rest: new Uint8Array(0),
      reader: null,
    };
    this.pump = pump;
    if (!(progressive && (await this.pumpV1Levels(header)))) await this.finishPump();
    const decode = (): PageState =>
      decodeDataPage(out.buf.subarray(0, total), header, this.decoder, true, this.levels, this.vectorWraps > 0);
    let page = decode();
    if (takenProgressively(page) && page.values.kind === 'plain') {
      // Only rows read by pumpFor's arithmetic may wait: from here the window keeps the bytes from
      // the next value to read on (and Snappy's history), not the page.
      pump.reader = page.values.reader;
      out.keepFrom = page.values.reader.offset;
      out.slide(page.values.reader.offset);
    } else {
      // acceptDataPage may read values of any other page: the whole of it, decoded again if the
      // window had to grow (the levels decoded above point into the smaller buffer).
      const before = out.buf;
      await this.finishPump();
      if (out.buf !== before) page = decode();
    }
    this.acceptDataPage(page);
  }

  /**
   * The streamed page's bytes moved: slid down by `drop` (its reader follows; rows not yet taken
   * that view the buffer are copied out first) or into a larger buffer (kept for the next page).
   */
  private windowMoved(drop: number): void {
    const p = this.pump;
    if (p === null) return;
    const buf = p.out.buf;
    this.scratch = buf;
    const r = p.reader;
    if (r === null) return;
    if (drop > 0) {
      this.detachReady(buf.buffer);
      r.offset -= drop;
    } else r.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Decompressed bytes of the current streamed page so far. */
  private pumped(p: PagePump): number {
    return p.out.written;
  }

  /**
   * Decompresses the current streamed page until `need` bytes of it are there (or all of it),
   * feeding at most PUMP_STEP compressed bytes at a time.
   */
  private async pumpTo(need: number): Promise<void> {
    const p = this.pump;
    if (p === null) return;
    while (this.pumped(p) < need && (this.pos < p.stop || p.rest.length > 0)) {
      if (p.rest.length === 0) {
        const have = this.bufStart + this.buf.length;
        if (this.pos < have) {
          p.rest = this.buf.subarray(this.pos - this.bufStart, Math.min(have, p.stop) - this.bufStart);
        } else {
          p.rest = await this.input.slice(this.pos, Math.min(p.stop, this.pos + Math.min(this.readAhead, PUMP_READ)));
          this.countBytes(p.rest.length);
          if (p.rest.length === 0)
            throw new ParquetStructureError(`column '${this.pathKey}': page cut short at byte ${this.pos}`);
        }
        this.pos += p.rest.length;
      }
      let piece = p.rest.subarray(0, PUMP_STEP);
      p.rest = p.rest.subarray(piece.length);
      if (p.copied < p.raw) {
        const k = Math.min(p.raw - p.copied, piece.length);
        p.out.write(piece.subarray(0, k));
        p.copied += k;
        piece = piece.subarray(k);
      }
      const last = this.pos >= p.stop && p.rest.length === 0;
      if (piece.length > 0 || last) await p.decoder.push(piece, last);
    }
  }

  /** Decompresses the rest of the current streamed page and checks its size. */
  private async finishPump(): Promise<void> {
    const p = this.pump;
    if (p === null) return;
    await this.pumpTo(Infinity);
    this.pump = null;
    this.buf = new Uint8Array(0);
    this.bufStart = this.pos;
    if (p.copied !== p.raw || p.out.written !== p.out.total)
      throw new ParquetStructureError(
        `column '${this.pathKey}': page decompressed to ${this.pumped(p)} bytes, its header says ${p.out.total}`,
      );
  }

  /**
   * Decompresses a v1 page as far as its levels (RLE, each behind a 4-byte length); false when they
   * are not length-prefixed (legacy BIT_PACKED) or the page is too short for them.
   */
  private async pumpV1Levels(header: PageHeader): Promise<boolean> {
    const v1 = header.data_page_header!;
    const p = this.pump!;
    let at = 0;
    const sections: string[] = [];
    if (getMaxRepetitionLevel(this.decoder.schemaPath) > 0) sections.push(v1.repetition_level_encoding);
    if (getMaxDefinitionLevel(this.decoder.schemaPath) > 0) sections.push(v1.definition_level_encoding);
    for (const encoding of sections) {
      if (encoding !== 'RLE') return false;
      await this.pumpTo(at + 4);
      if (this.pumped(p) < at + 4) return false; // a short page: decodeDataPage reports it
      // Nothing has slid yet (the window slides only once the values are being read).
      at += 4 + new DataView(p.out.buf.buffer, p.out.buf.byteOffset + at, 4).getUint32(0, true);
      await this.pumpTo(at);
    }
    return true;
  }

  /**
   * Before `want` rows of a progressively decompressed page are assembled: its values for them
   * are decompressed (rows of `stride` levels, one value each, read in order from reader.offset).
   */
  private async pumpFor(page: PageState, want: number): Promise<void> {
    if (this.pump === null) return;
    const v = page.values;
    if (!takenProgressively(page) || v.kind !== 'plain') return this.finishPump();
    const width = this.decoder.type === 'DOUBLE' ? 8 : 4;
    const levels = Math.min(page.numLevels - page.levelAt, want * page.stride);
    // The reader's view is the window: its offset is a byte offset in the page less the window's base.
    const p = this.pump;
    const from = p.out.base + v.reader.offset;
    p.out.keepFrom = from;
    const need = from + levels * width;
    await this.pumpTo(need);
    if (this.pumped(p) < need) throw new ParquetStructureError(`column '${this.pathKey}': values run past the page`);
  }

  /**
   * The reusable buffer for streamed pages, `size` bytes long (`atLeast`: all of it if larger, for
   * a window). Rows not yet taken may still be views into it (the list<float> fast path, binary
   * values): those are copied out first. Rows already taken are the caller's to copy before its
   * next take (RowGroupColumns.take).
   */
  private pageBuffer(size: number, atLeast = false): Uint8Array {
    const old = this.scratch;
    if (old !== null) {
      this.detachReady(old.buffer);
      if (old.length >= size) return atLeast ? old : old.subarray(0, size);
    }
    const fresh = new Uint8Array(Math.max(size, old === null ? 0 : old.length));
    this.scratch = fresh;
    return atLeast ? fresh : fresh.subarray(0, size);
  }

  /** Rows not yet taken that view `buffer` become copies (it is about to be overwritten). */
  private detachReady(buffer: ArrayBufferLike): void {
    const detach = (v: unknown): unknown => {
      if (ArrayBuffer.isView(v)) return v.buffer === buffer ? (v as Uint8Array).slice() : v;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) v[i] = detach(v[i]);
        return v;
      }
      if (v !== null && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        for (const k of Object.keys(o)) o[k] = detach(o[k]);
      }
      return v;
    };
    for (let i = 0; i < this.ready.length; i++) this.ready[i] = detach(this.ready[i]);
  }
}

/** What a page of a leaf column may declare (decision 0801). */
export interface PageLimits {
  /** IMPORT_MAX_PAGE_BYTES: stored or decompressed bytes, and bytes to decode its values. */
  readonly maxPageBytes: number;
  /** Rows of the row group: a page of a column without repetition holds no more values. */
  readonly rows: number;
  /** Shared by the leaves of the row group. */
  readonly budget?: PageBudget;
}

export interface RowGroupColumns {
  /** Top-level column names in read order. */
  readonly names: readonly string[];
  /**
   * Next `n` rows of each top-level column, by name. Values may be views into a page buffer that
   * the next `take` reuses: copy what you keep before calling it again (RowBatchBuilder does).
   */
  take(n: number): Promise<Map<string, DecodedArray>>;
  /** Checks that every leaf ended exactly at the row group's row count. */
  finish(): Promise<void>;
  /** Bytes of the buffers the leaves decompress large pages into (whole pages or windows). */
  readonly pageBufferBytes: number;
}

export interface RowGroupReadOptions {
  readonly input: ByteInput;
  readonly metadata: FileMetaData;
  readonly tree: SchemaTree;
  readonly rowGroup: number;
  /** Top-level columns to read. */
  readonly columns: readonly string[];
  readonly parsers: Partial<ParquetParsers>;
  readonly compressors: Compressors;
  /** Total read-ahead budget across this row group's leaf columns. */
  readonly readAheadBytes: number;
  readonly countBytes: (n: number) => void;
  /** IMPORT_MAX_PAGE_BYTES (DEFAULT_MAX_PAGE_BYTES when absent). */
  readonly maxPageBytes?: number;
}

/** Leaf cursors of the requested top-level columns of one row group, assembled window by window. */
export function openRowGroupColumns(o: RowGroupReadOptions): RowGroupColumns {
  const rg = o.metadata.row_groups[o.rowGroup];
  if (rg === undefined) throw new ParquetStructureError(`no row group ${o.rowGroup}`);
  const parsers: ParquetParsers = { ...DEFAULT_PARSERS, ...o.parsers };
  const wanted = new Set(o.columns);
  const chunks: ColumnMetaData[] = [];
  for (const c of rg.columns) {
    if (c.file_path) throw new ParquetStructureError('column chunks in other files (file_path) are not supported');
    const meta = c.meta_data;
    if (meta === undefined) throw new ParquetStructureError('column chunk without metadata');
    if (wanted.has(meta.path_in_schema[0]!)) chunks.push(meta);
  }
  const perLeaf = Math.max(256 << 10, Math.min(8 << 20, Math.floor(o.readAheadBytes / Math.max(1, chunks.length))));
  const maxPageBytes = o.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
  const budget = new PageBudget(maxPageBytes);
  const leaves = new Map<string, LeafColumnCursor[]>();
  for (const meta of chunks) {
    const schemaPath = getTreePath(o.tree, meta.path_in_schema);
    const element = schemaPath[schemaPath.length - 1]!.element;
    const decoder: ColumnDecoder = {
      pathInSchema: meta.path_in_schema,
      type: meta.type,
      element,
      schemaPath,
      codec: meta.codec,
      parsers,
      compressors: o.compressors,
    };
    // Same range as hyparquet's planner (polars writes dictionary_page_offset 0 for "none").
    const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
    const end = start + Number(meta.total_compressed_size);
    const cursor = new LeafColumnCursor(o.input, decoder, start, end, perLeaf, o.countBytes, {
      maxPageBytes,
      rows: Number(rg.num_rows),
      budget,
    });
    const top = meta.path_in_schema[0]!;
    leaves.set(top, [...(leaves.get(top) ?? []), cursor]);
  }
  const names = o.columns.filter((c) => leaves.has(c));
  const trees = new Map(o.tree.children.map((c) => [c.element.name, c]));

  return {
    names,
    async take(n) {
      const out = new Map<string, DecodedArray>();
      const parts = await Promise.all(
        names.map(async (name) => {
          const cursors = leaves.get(name)!;
          try {
            const data: DecodedArray[] = await Promise.all(cursors.map((c) => c.take(n)));
            return [name, cursors, data] as const;
          } catch (e) {
            throw new ParquetColumnError(name, e);
          }
        }),
      );
      for (const [name, cursors, data] of parts) {
        const tree = trees.get(name)!;
        if (tree.children.length === 0) {
          out.set(name, data[0]!);
          continue;
        }
        const sub = new Map<string, DecodedArray>();
        cursors.forEach((c, i) => sub.set(c.pathKey, data[i]!));
        try {
          assembleNested(sub, tree, parsers);
        } catch (e) {
          throw new ParquetColumnError(name, e);
        }
        const assembled = sub.get(name);
        if (assembled === undefined)
          throw new ParquetColumnError(name, new ParquetStructureError('column could not be assembled'));
        out.set(name, assembled);
      }
      return out;
    },
    get pageBufferBytes() {
      let n = 0;
      for (const cursors of leaves.values()) for (const c of cursors) n += c.pageBufferBytes;
      return n;
    },
    async finish() {
      for (const [name, cursors] of leaves)
        for (const c of cursors)
          await c.finish().catch((e: unknown) => {
            throw new ParquetColumnError(name, e);
          });
    },
  };
}
