import type { LoggerService } from '@nestjs/common';
import pino, { type Logger } from 'pino';

/** Keys whose values never reach a log line, at any depth pino's redaction reaches. */
const SECRET_KEYS = ['accessKey', 'secretKey', 'token', 'password', 'authorization', 'credentials', 'sasToken'];
const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
];

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
      redact: { paths: REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: {
        // Last line of defence: scrub signed-URL parameters from every message string.
        logMethod(args, method) {
          const scrubbed = args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<typeof method>;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        err: (e: unknown) => {
          const s = pino.stdSerializers.err(e as Error);
          return { ...s, message: scrubSecrets(s.message), stack: s.stack ? scrubSecrets(s.stack) : s.stack };
        },
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
