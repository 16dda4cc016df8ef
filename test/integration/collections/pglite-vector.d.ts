// The repo's tsconfig uses moduleResolution node10, which ignores package.json "exports" subpaths;
// vitest resolves the real module at runtime, this only gives tsc its type.
declare module '@electric-sql/pglite/vector' {
  import type { Extension } from '@electric-sql/pglite';
  export const vector: Extension;
}
