import { runCli } from '../apps/cli/src/cli';

// `npm run apikey -- create|revoke|list …` is `import-gateway apikey …` (kept: config.md names it).
runCli(['apikey', ...process.argv.slice(2)], { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => process.exit(code),
  () => process.exit(1),
);
