// A parse-thread stand-in that, on its first task, keeps allocating JS objects until V8 ends the
// thread at its heap limit (ERR_WORKER_OUT_OF_MEMORY): what a hostile file did before 0801.
const { parentPort } = require('node:worker_threads');
parentPort.on('message', () => {
  const hold = [];
  for (;;) hold.push(new Array(1 << 16).fill({ x: hold.length }));
});
