/**
 * The one base class every lib's errors extend. Each lib owns a string enum of codes
 * (`<lib>.errors.ts`); the API maps those enums exhaustively to the Milvus envelope and the
 * worker decides whether to retry from `retryable`, never from the message text.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;
  readonly retryable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: C,
    message: string,
    opts: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.details = Object.freeze({ ...(opts.details ?? {}) });
  }
}

export function isCodedError(e: unknown): e is CodedError {
  return e instanceof CodedError;
}

/** Exhaustiveness helper for switches over error-code enums. */
export function assertUnreachable(x: never): never {
  throw new Error(`unreachable: ${String(x)}`);
}
