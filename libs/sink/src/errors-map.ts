import { isConnectionFailure, isTransientSqlState } from '@gw/pg';
import type { CopyLayout } from './layout';
import { SinkError, SinkErrorCode, type SinkErrorLocation } from './sink.errors';

interface PgErrorFields {
  code?: unknown;
  detail?: unknown;
  constraint?: unknown;
  column?: unknown;
  table?: unknown;
  where?: unknown;
  message?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `Key (id)=(42) already exists.` → ['id', '42']. */
function parseKeyDetail(detail: string | undefined): [string, string] | undefined {
  const m = /^Key \((.*)\)=\((.*)\) already exists\.?$/s.exec(detail ?? '');
  return m ? [m[1]!, m[2]!] : undefined;
}

/** The field behind one of the collections DDL's constraint names (gw_check_<i>, gw_check_meta). */
function constraintField(constraint: string, layout: CopyLayout | undefined): string | undefined {
  if (constraint === 'gw_check_meta') return '$meta';
  const m = /^gw_check_(\d+)$/.exec(constraint);
  return m && layout ? layout.input.fields[Number(m[1])]?.name : undefined;
}

export interface ErrorContext {
  readonly layout?: CopyLayout;
  /** Maps PostgreSQL's `COPY t, line N` to the input file and row. */
  readonly locate?: (line: number) => SinkErrorLocation | undefined;
}

/**
 * A PostgreSQL or driver error as a SinkError: connection-class and transient failures are
 * retryable, data errors are not. Also for the caller's own statements around the COPY (the
 * publishing INSERT … SELECT reports duplicate keys the same way). SinkErrors pass through.
 */
export function toSinkError(e: unknown, ctx: ErrorContext = {}): SinkError {
  if (e instanceof SinkError) return e;
  const f: PgErrorFields = typeof e === 'object' && e !== null ? e : {};
  const message = str(f.message) ?? String(e);
  const code = str(f.code) ?? '';
  const lineMatch = /line (\d+)/.exec(str(f.where) ?? '');
  const at = lineMatch ? ctx.locate?.(Number(lineMatch[1])) : undefined;
  const where = at ? ` (file ${at.file}, row ${at.row})` : '';
  const base = {
    sqlState: code || undefined,
    ...(at ? { file: at.file, row: at.row } : {}),
    ...(str(f.table) ? { table: f.table } : {}),
  };
  const make = (c: SinkErrorCode, msg: string, details: Record<string, unknown> = {}, retryable = false): SinkError =>
    new SinkError(c, msg + where, { retryable, cause: e, details: { ...base, ...details } });

  if (/^\d{2}[0-9A-Z]{3}$/.test(code)) {
    if (isTransientSqlState(code)) return make(SinkErrorCode.Connection, message, {}, true);
    if (code === '23505') {
      const kv = parseKeyDetail(str(f.detail));
      const constraint = str(f.constraint);
      const what = constraint === undefined || constraint.endsWith('_pkey') ? 'duplicate primary key' : 'duplicate key';
      return make(SinkErrorCode.DuplicateKey, kv ? `${what}: ${kv[0]}=${kv[1]}` : `${what}: ${message}`, {
        constraint,
        ...(kv ? { key: kv[0], value: kv[1] } : {}),
      });
    }
    if (code === '23514') {
      const constraint = str(f.constraint) ?? 'unknown';
      const field = constraintField(constraint, ctx.layout);
      return make(
        SinkErrorCode.CheckViolation,
        `check constraint ${constraint} violated${field !== undefined ? ` (field '${field}')` : ''}`,
        { constraint, ...(field !== undefined ? { field } : {}) },
      );
    }
    if (code === '23502') {
      const column = str(f.column);
      return make(SinkErrorCode.NotNullViolation, column ? `null value in column '${column}'` : message, { column });
    }
    if (code.startsWith('22') || code.startsWith('23')) return make(SinkErrorCode.InvalidData, message);
    return make(SinkErrorCode.Database, message);
  }
  if (isConnectionFailure(e)) return make(SinkErrorCode.Connection, message, {}, true);
  return make(SinkErrorCode.Database, message);
}
