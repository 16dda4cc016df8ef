import { appendFileSync } from 'node:fs';

/**
 * Scale of the reliability and security suites: `npm run test:reliability` / `test:security` set
 * IGW_SUITE=full; inside `npm test` (CI) the same files run reduced.
 */
export const FULL_SUITE = process.env.IGW_SUITE === 'full';

/** `ci` inside `npm test`, `full` in the dedicated suites. */
export function scale<T>(ci: T, full: T): T {
  return FULL_SUITE ? full : ci;
}

/** A small seeded PRNG (mulberry32), so a failing random schedule can be replayed with IGW_SEED. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function suiteSeed(): number {
  const fromEnv = Number(process.env.IGW_SEED);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.floor(Math.random() * 2 ** 31) + 1;
}

/**
 * Prints one measured figure set (`[figure] name {…}`) and appends it as a JSON line to
 * IGW_FIGURES_FILE when set, so docs/reliability.md quotes what a run printed.
 */
export function reportFigure(name: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ name, full: FULL_SUITE, at: new Date().toISOString(), ...figures });
  console.log(`[figure] ${line}`);
  const file = process.env.IGW_FIGURES_FILE;
  if (file !== undefined && file !== '') appendFileSync(file, `${line}\n`);
}
