// Run by test/kernel/worker.test.ts as: node -r register-ts.cjs worker-netns-child.cjs SPAWN_TS
// A worker thread spawns into a new network namespace (as root: from the pool, whose thread
// then makes more) and is terminated while that thread is at work. Node must not abort; the
// thread must be gone and every namespace it made closed. Prints one JSON line.
// madeDuring: namespaces were still being made when the worker was terminated.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const netnsFds = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('net:');
  } catch {
    return false;
  }
}).length;
const threads = () => fs.readdirSync('/proc/self/task');
const ownNetns = () => fs.readlinkSync('/proc/self/ns/net');

if (isMainThread) {
  const before = { fds: netnsFds(), threads: threads().length };
  const worker = new Worker(__filename, { execArgv: ['-r', path.join(__dirname, 'register-ts.cjs')], workerData: { spawn: process.argv[2] } });
  worker.once('message', async (during) => {
    await worker.terminate();
    await new Promise((r) => setTimeout(r, 200));
    const own = ownNetns();
    console.log(JSON.stringify({
      terminated: true,
      madeDuring: during,
      netnsFdsLeft: netnsFds() - before.fds,
      threadsLeft: threads().length - before.threads,
      threadsElsewhere: threads().filter((t) => fs.readlinkSync(`/proc/self/task/${t}/ns/net`) !== own).length,
    }));
  });
  worker.once('error', (e) => console.log(JSON.stringify({ error: String(e) })));
} else {
  const { spawnWith } = require(workerData.spawn);
  const { native } = require(path.join(path.dirname(workerData.spawn), 'native'));
  // The spawn starts the pool's thread; then more namespaces are asked for than it makes
  // before the worker is terminated (~0.3 ms each), and the thread is at work when it is.
  spawnWith({ command: ['/bin/true'], stdio: 'ignore', namespaces: ['net'] }, {}).then(() => {
    native.netnsPoolFill(16, 0, () => {});
    const [, making0, , making1] = native.netnsPoolState();
    parentPort.postMessage(making0 + making1 > 0);
  });
}
