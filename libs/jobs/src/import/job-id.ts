import { randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const JOB_ID_PATTERN = /^job-[a-z0-9]{22}$/;

/** `job-` + 22 lowercase letters and digits (≈113 bits), unbiased by rejection sampling. */
export function newJobId(): string {
  let out = 'job-';
  while (out.length < 26) {
    for (const b of randomBytes(32)) {
      if (b < 252) out += ALPHABET.charAt(b % 36);
      if (out.length === 26) break;
    }
  }
  return out;
}
