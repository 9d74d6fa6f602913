// Run by test/kernel/worker.test.ts as: node -r register-ts.cjs worker-child.cjs LIB [fork]
// (fork: the program runs as the grandchild of a fork plan step.)
// A worker thread spawns a long-running child, then the worker is terminated while the
// child runs. Node must not abort (uv_loop_close with open handles), and the child must
// not outlive the worker as a process nobody can reap: it is ended and reaped (no zombie).
// Prints one JSON line.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

if (isMainThread) {
  const register = path.join(__dirname, 'register-ts.cjs');
  const worker = new Worker(__filename, { execArgv: ['-r', register], workerData: { lib: process.argv[2], fork: process.argv[3] === 'fork' } });
  worker.once('message', async (pid) => {
    await worker.terminate();
    let state = 'gone';
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]; // 'Z': a zombie
      process.kill(pid, 'SIGKILL'); // ours: the worker made it
    } catch {}
    console.log(JSON.stringify({ terminated: true, state }));
  });
  worker.once('error', (e) => {
    console.log(JSON.stringify({ error: String(e) }));
  });
} else {
  const { spawn } = require(workerData.lib);
  const plan = workerData.fork ? [{ op: 'fork' }] : [];
  spawn({ command: ['sleep', '30'], stdio: 'ignore', plan }).then((child) => parentPort.postMessage(child.pid));
}
