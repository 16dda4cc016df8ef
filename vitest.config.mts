import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';
import { resolve } from 'node:path';

const lib = (name: string) => resolve(import.meta.dirname, `libs/${name}/src/index.ts`);

// SWC instead of esbuild: NestJS dependency injection needs emitted decorator metadata.
export default defineConfig({
  plugins: [swc.vite({ tsconfigFile: './tsconfig.json', swcrc: false, module: { type: 'es6' } })],
  resolve: {
    alias: {
      '@gw/errors': lib('errors'),
      '@gw/config': lib('config'),
      '@gw/db': lib('db'),
      '@gw/jobs': lib('jobs'),
      '@gw/storage': lib('storage'),
      '@gw/volumes': lib('volumes'),
      '@gw/formats': lib('formats'),
      '@gw/sink': lib('sink'),
      '@gw/schema': lib('schema'),
      '@gw/collections': lib('collections'),
      '@gw/logger': lib('logger'),
      '@gw/pg': lib('pg'),
      '@gw/testing': resolve(import.meta.dirname, 'test/support/index.ts'),
    },
  },
  test: {
    include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts', 'test/**/*.spec.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
