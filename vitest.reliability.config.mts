import { defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.mts';

// `npm run test:reliability`: the full reliability suite (test/reliability), at full scale
// (IGW_SUITE=full: 20 kills, 1,000-job soak, 10,050 creates). `npm test` runs the same files
// at CI scale. Files run one at a time: each measures the machine it loads.
export default mergeConfig(
  base,
  defineConfig({
    test: {
      include: ['test/reliability/**/*.spec.ts'],
      env: { IGW_SUITE: 'full' },
      fileParallelism: false,
      testTimeout: 1_800_000,
      hookTimeout: 300_000,
    },
  }),
);
