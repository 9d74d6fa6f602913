// The README demo: a real process in new pid, uts, mount, ipc and net namespaces. It
// prints that it is pid 1 and its own hostname; we print its namespaces next to ours.
'use strict';
const os = require('node:os');
const { spawn, listNamespaces } = require('..');

async function main() {
  const namespaces = ['pid', 'uts', 'mount', 'ipc', 'net'];
  if (process.getuid() !== 0) namespaces.unshift('user'); // rootless: map ourselves to root inside
  const child = await spawn({
    command: ['/bin/sh', '-c', 'echo "inside:  pid $$, hostname $(hostname)"; read _'],
    namespaces,
    plan: [
      // Our mounts must not propagate back to the host: make the tree private first.
      { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
      // A /proc of the new pid namespace.
      { op: 'mount', source: 'proc', target: '/proc', type: 'proc', flags: { nosuid: true, nodev: true, noexec: true } },
      { op: 'sethostname', hostname: 'nsbox-demo' },
    ],
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(String(d).trim())));
  console.log(`outside: pid ${child.pid}, hostname ${os.hostname()}`);
  console.log(line);

  const host = new Map(listNamespaces('self').map((n) => [n.link, n]));
  console.log('\n        NS TYPE     HOST         CHILD');
  for (const ns of listNamespaces(child.pid).filter((n) => !n.forChildren)) {
    const ours = listNamespaces('self').find((n) => n.type === ns.type && !n.forChildren);
    const mark = host.has(ns.link) ? 'shared' : 'new';
    console.log(`${String(ns.type).padStart(10)}  ${String(ours.ino).padEnd(11)}  ${String(ns.ino).padEnd(11)}  ${mark}`);
  }
  child.stdin.end('\n');
  const status = await child.exited;
  console.log(`\nexited: ${JSON.stringify(status)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
