import { defineConfig } from 'prisma/config';

// No datasource here: generate must work without DATABASE_URL (see ../shared notes on offline Prisma).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
