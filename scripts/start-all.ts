import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

/**
 * `npm start`: the API and one worker as two child processes of this one (a single-machine
 * deployment). Signals are forwarded; if either child exits, the other is stopped and this
 * process exits with the first child's code, so a supervisor sees the failure.
 */
const children: ChildProcess[] = [];
let stopping = false;

function stopAll(signal: NodeJS.Signals): void {
  stopping = true;
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
}

function spawn(name: string, file: string): void {
  const child = fork(join(__dirname, '..', 'apps', name, 'src', file), [], { stdio: 'inherit' });
  children.push(child);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`import-gateway: ${name} exited (${signal ?? `code ${code}`}); stopping\n`);
      stopAll('SIGTERM');
    }
    process.exitCode ??= code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1);
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(process.exitCode);
  });
}

for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => stopAll(s));
spawn('api', 'main.js');
spawn('worker', 'main.js');
