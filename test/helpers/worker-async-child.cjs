// Run by test/kernel/worker.test.ts as: node -r register-ts.cjs worker-async-child.cjs SPAWN_TS MARK
// A worker thread starts vfork clones on libuv pool threads (spawnAsync) and is terminated
// before they are done: Node must not abort, and the programs they started must be ended and
// reaped, found by the MARK in their argv. Prints one JSON line.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

function left(mark) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(mark)) found.push(Number(pid));
    } catch {}
  }
  return found;
}

if (isMainThread) {
  const mark = process.argv[3];
  const register = path.join(__dirname, 'register-ts.cjs');
  const worker = new Worker(__filename, { execArgv: ['-r', register], workerData: { spawn: process.argv[2], mark } });
  worker.once('message', async (n) => {
    await worker.terminate();
    await new Promise((r) => setTimeout(r, 200));
    const pids = left(mark);
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch {}
    }
    console.log(JSON.stringify({ terminated: true, started: n, left: pids.length }));
  });
  worker.once('error', (e) => console.log(JSON.stringify({ error: String(e) })));
} else {
  const { spawnWith } = require(workerData.spawn);
  const n = 6;
  for (let i = 0; i < n; i++) {
    spawnWith({ command: ['sleep', workerData.mark], stdio: 'ignore', namespaces: process.geteuid() === 0 ? ['mount', 'uts'] : ['user', 'mount', 'uts'] }, { vm: true, vfork: true, async: true }).catch(() => {});
  }
  parentPort.postMessage(n); // at once: the clones are still on the pool threads
}
