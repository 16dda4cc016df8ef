#!/usr/bin/env node
import { runCli } from './cli';

// The one place the CLI touches process globals; everything else takes them as parameters.
runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`import-gateway: ${String(e)}\n`);
    process.exitCode = 1;
  },
);
