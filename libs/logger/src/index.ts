import { AsyncLocalStorage } from 'node:async_hooks';
import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';

/** Fields every log line carries while some work runs: the request id of an HTTP call or of the job it created. */
export interface LogContext {
  requestId?: string;
  jobId?: string;
}

const logContext = new AsyncLocalStorage<LogContext>();

/**
 * Runs `fn` with `fields` added to every log line written inside it, through any await, by any
 * logger built by `createRootLogger` (Nest's `Logger` included). Nested calls add to the outer fields.
 */
export function withLogContext<T>(fields: LogContext, fn: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...fields }, fn);
}

/**
 * Adds fields to the context already running (a worker learns a job's request id only once its
 * run has read the job row); outside `withLogContext` it does nothing.
 */
export function setLogContext(fields: LogContext): void {
  const store = logContext.getStore();
  if (store === undefined) return;
  for (const [k, v] of Object.entries(fields) as [keyof LogContext, string | undefined][]) {
    if (v !== undefined && v !== '') store[k] = v;
  }
}

/** The fields of the running context (empty outside one). */
export function currentLogContext(): Readonly<LogContext> {
  return logContext.getStore() ?? {};
}

/**
 * Keys whose values never reach a log line, compared case-insensitively and at any depth
 * (`redactDeep`); pino's own path redaction stays for the request headers it knows.
 */
const SECRET_KEYS = new Set(
  [
    'accessKey',
    'secretKey',
    'secretAccessKey',
    'sessionToken',
    'token',
    'password',
    'authorization',
    'proxy-authorization',
    'cookie',
    'set-cookie',
    'x-api-key',
    'apiKey',
    'credentials',
    'sasToken',
    'connectionString',
  ].map((k) => k.toLowerCase()),
);
const REDACT_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-api-key"]'];
/** Deeper than this, a value is replaced: log objects are not meant to be deep, and a walk must end. */
const MAX_DEPTH = 16;

const isPlain = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * A copy of `value` with every secret-named key censored (any letter case, any depth), signed-URL
 * parameters and bearer tokens scrubbed from strings, and nested errors serialized the same way.
 */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  // pino's serialized error has its own prototype: spread it into a plain object to walk it.
  if (value instanceof Error) return redactDeep({ ...pino.stdSerializers.err(value) }, depth, seen);
  if (!Array.isArray(value) && !isPlain(value)) return value; // Dates, Buffers, class instances: as pino prints them
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] =
        SECRET_KEYS.has(k.toLowerCase()) && v !== undefined && v !== null ? '***' : redactDeep(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** Signature and credential parameters of presigned S3/GCS/Azure URLs. */
const SIGNED_PARAM =
  /([?&](?:X-Amz-[A-Za-z-]+|X-Goog-[A-Za-z-]+|sig|se|sv|sp|st|spr|srt|ss|skoid|sktid|skt|ske|sks|skv|Signature|Expires|GoogleAccessId|AWSAccessKeyId)=)[^&#\s"']*/gi;
const BEARER = /(Bearer\s+)[^\s"',]+/gi;

/** Removes signed-URL signatures and bearer tokens from free text (error messages, URLs). */
export function scrubSecrets(text: string): string {
  return text.replace(SIGNED_PARAM, '$1***').replace(BEARER, '$1***');
}

export function createRootLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      // requestId / jobId of the work this line belongs to; a field the line sets itself wins.
      mixin: () => ({ ...logContext.getStore() }),
      redact: { paths: REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        // Every logged object, whatever its shape: secret keys in any case at any depth.
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      hooks: {
        // Last line of defence: scrub signed-URL parameters from every message string.
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        // `formatters.log` already turned errors into plain objects; anything still error-like is walked too.
        err: (e: unknown) => (e instanceof Error ? redactDeep(e) : e),
      },
    },
    destination,
  );
}

/** Nest's LoggerService backed by pino, so `new Logger(ctx)` in any lib writes structured lines. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly root: Logger) {}

  private write(level: 'info' | 'error' | 'warn' | 'debug' | 'trace' | 'fatal', message: unknown, params: unknown[]) {
    const context = typeof params[params.length - 1] === 'string' ? (params.pop() as string) : undefined;
    const extra: Record<string, unknown> = context === undefined ? {} : { context };
    // `logger.log({ ...fields }, 'text')`: with an object first, the first string is the message.
    let text: string | undefined;
    for (const p of params) {
      if (p instanceof Error) extra.err = p;
      else if (typeof p === 'string' && text === undefined && typeof message === 'object') text = p;
      else if (typeof p === 'string') extra.stack = scrubSecrets(p);
      else if (p !== null && typeof p === 'object') Object.assign(extra, p);
    }
    if (message instanceof Error) this.root[level]({ ...extra, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.root[level]({ ...extra, ...message }, text);
    else this.root[level](extra, String(message));
  }

  log(message: unknown, ...params: unknown[]) {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]) {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]) {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]) {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]) {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]) {
    this.write('fatal', message, params);
  }
}

export type { Logger } from 'pino';
