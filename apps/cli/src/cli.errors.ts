import { CodedError } from '@gw/errors';

/** Why the CLI stopped; each maps to one exit code a script can rely on (docs/cli.md). */
export enum CliErrorCode {
  Usage = 'USAGE',
  Api = 'API',
  Auth = 'AUTH',
  Unreachable = 'UNREACHABLE',
  JobFailed = 'JOB_FAILED',
  JobCancelled = 'JOB_CANCELLED',
  Interrupted = 'INTERRUPTED',
}

export class CliError extends CodedError<CliErrorCode> {}

/** The exit-code contract. Record<> keeps it exhaustive: a new code does not compile until mapped. */
export const EXIT_CODES: Record<CliErrorCode, number> = {
  [CliErrorCode.Usage]: 2,
  [CliErrorCode.Api]: 3,
  [CliErrorCode.Auth]: 4,
  [CliErrorCode.Unreachable]: 5,
  [CliErrorCode.JobFailed]: 10,
  [CliErrorCode.JobCancelled]: 11,
  [CliErrorCode.Interrupted]: 130,
};

export const EXIT_OK = 0;
/** Anything not classified above: a bug, or an unexpected local failure. */
export const EXIT_UNEXPECTED = 1;

export function usageError(message: string): CliError {
  return new CliError(CliErrorCode.Usage, message);
}
