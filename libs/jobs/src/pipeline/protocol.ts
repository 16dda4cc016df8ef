import type { MessagePort } from 'node:worker_threads';
import { CodedError } from '@gw/errors';
import {
  FormatError,
  FormatErrorCode,
  type FileFormat,
  type FormatErrorLocation,
  type ReadOptions,
  type RejectedRow,
} from '@gw/formats';
import type { CollectionSchema } from '@gw/schema';
import { SinkError, SinkErrorCode, type LayoutInput } from '@gw/sink';

/**
 * Messages between the main thread and a parse thread. Everything here crosses postMessage
 * (structured clone), so it is plain data; bytes travel as transferred ArrayBuffers.
 */

/** How a piece's own coordinates map back to the file's (see rebase). */
export interface PieceShift {
  /** Rows of the file before the piece's first row. */
  readonly row: number;
  /** File offset of the first byte after the piece's synthetic prefix. */
  readonly byte: number;
  /** Bytes of synthetic prefix (CSV header, `[` of a JSON array) before the file's bytes. */
  readonly prefix: number;
  /** Added to line numbers (CSV: the header line is repeated as line 1 of every piece). */
  readonly line: number;
  /** Per-file byte shift instead of `byte` (a NumPy row range starts at a different offset in each file). */
  readonly fileBytes?: Readonly<Record<string, number>>;
}

export const NO_SHIFT: PieceShift = { row: 0, byte: 0, prefix: 0, line: 0 };

/** An input of a task: bytes shipped with it, or read on demand from the main thread's ByteInput. */
export type TaskInput =
  | { readonly kind: 'bytes'; readonly name: string; readonly bytes: Uint8Array }
  | {
      readonly kind: 'remote';
      readonly name: string;
      /** The ByteInput's size (without prefix). */
      readonly byteLength: number;
      /** Index of the ByteInput in the group. */
      readonly index: number;
      /** Read from this file offset on, after `prefix` (a piece that runs to the end of the file). */
      readonly from?: number;
      readonly prefix?: Uint8Array;
    };

export interface TaskSpec {
  readonly id: number;
  readonly format: FileFormat;
  readonly schema: CollectionSchema;
  /** Without `onRejectedRow` (a function does not cross postMessage): see `keepGoing`. */
  readonly readOptions: Omit<ReadOptions, 'onRejectedRow'>;
  /** error_mode=continue: refused rows are skipped and posted back as `reject` messages. */
  readonly keepGoing?: boolean;
  readonly layout: LayoutInput;
  readonly inputs: readonly TaskInput[];
  readonly shift: PieceShift;
  readonly chunkBytes: number;
}

export type SerializedError =
  | { readonly kind: 'format'; readonly code: string; readonly loc: FormatErrorLocation; readonly problem: string }
  | {
      readonly kind: 'sink';
      readonly code: string;
      readonly message: string;
      readonly retryable: boolean;
      readonly details: Record<string, unknown>;
    }
  | { readonly kind: 'other'; readonly name: string; readonly message: string; readonly stack?: string };

export type ToThread =
  | { readonly t: 'task'; readonly spec: TaskSpec }
  | { readonly t: 'read'; readonly task: number; readonly req: number; readonly bytes: Uint8Array | null }
  | { readonly t: 'read-error'; readonly task: number; readonly req: number; readonly err: SerializedError };

/**
 * A parse thread's workerData: `recycle` carries the buffers of chunks the COPY has sent (each
 * message one transferred ArrayBuffer), drained synchronously by the thread before it allocates.
 */
export interface ParseThreadData {
  readonly recycle: MessagePort;
}

export type ReadRequest =
  | { readonly kind: 'slice'; readonly input: number; readonly start: number; readonly end: number }
  /** The next chunk of the sequential stream `sid` of an input, opened at `from` on first use. */
  | { readonly kind: 'stream'; readonly input: number; readonly sid: number; readonly from: number };

export type FromThread =
  | {
      readonly t: 'chunk';
      readonly task: number;
      readonly bytes: Uint8Array;
      readonly file: string;
      readonly firstRow: number;
      readonly rowCount: number;
    }
  | { readonly t: 'known-rows'; readonly task: number; readonly rows: number }
  /** A row skipped under keepGoing, already in file coordinates. */
  | { readonly t: 'reject'; readonly task: number; readonly row: RejectedRow }
  | { readonly t: 'read'; readonly task: number; readonly req: number; readonly request: ReadRequest }
  | { readonly t: 'done'; readonly task: number }
  | { readonly t: 'error'; readonly task: number; readonly err: SerializedError };

const isEnumValue = <E extends Record<string, string>>(e: E, v: string): v is E[keyof E] =>
  Object.values<string>(e).includes(v);

/** A FormatError's location in the file, from its location in the piece. */
export function rebaseLocation(loc: FormatErrorLocation, s: PieceShift): FormatErrorLocation {
  const out: { -readonly [K in keyof FormatErrorLocation]: FormatErrorLocation[K] } = { ...loc };
  if (loc.row !== undefined) out.row = loc.row + s.row;
  if (loc.byte !== undefined) out.byte = Math.max(0, loc.byte - s.prefix) + (s.fileBytes?.[loc.file] ?? s.byte);
  if (loc.line !== undefined) out.line = loc.line + s.line;
  return out;
}

/** The error as plain data; FormatErrors are moved to file coordinates on the way. */
export function serializeError(e: unknown, shift: PieceShift): SerializedError {
  if (e instanceof FormatError) {
    const { problem, ...loc } = e.details;
    return { kind: 'format', code: e.code, loc: rebaseLocation(loc, shift), problem };
  }
  if (e instanceof SinkError)
    return { kind: 'sink', code: e.code, message: e.message, retryable: e.retryable, details: { ...e.details } };
  if (e instanceof Error)
    return { kind: 'other', name: e.name, message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) };
  return { kind: 'other', name: 'Error', message: String(e) };
}

/** The same typed error again (FormatError with code, file, row, field and the same message). */
export function rebuildError(s: SerializedError): Error {
  if (s.kind === 'format' && isEnumValue(FormatErrorCode, s.code)) return new FormatError(s.code, s.loc, s.problem);
  if (s.kind === 'sink' && isEnumValue(SinkErrorCode, s.code))
    return new SinkError(s.code, s.message, { retryable: s.retryable, details: s.details });
  if (s.kind === 'other') {
    const e = new Error(s.message);
    e.name = s.name;
    if (s.stack !== undefined) e.stack = s.stack;
    return e;
  }
  return new CodedError(s.code, s.kind === 'format' ? s.problem : s.message);
}
