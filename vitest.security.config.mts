import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

// `npm run test:security`: auth matrix, fuzzing, SSRF and the secrets scan (test/security) at full
// scale (IGW_SUITE=full: more fuzz runs). `npm test` runs the same files at CI scale.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/security/**/*.spec.ts'],
      env: { IGW_SUITE: 'full' },
      testTimeout: 600_000,
      hookTimeout: 300_000,
    },
  }),
);
