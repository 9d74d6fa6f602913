// Run by test/kernel/unprivileged.test.ts as uid 65534 (node -r register-ts.cjs this-file):
// what an unprivileged user gets from nsbox, printed as JSON.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { spawn, mount } = require(path.join(__dirname, '..', '..', 'lib', 'index.ts'));
const { spawnWith } = require(path.join(__dirname, '..', '..', 'lib', 'spawn.ts'));

async function main() {
  const result = { uid: process.getuid(), gid: process.getgid() };
  const child = await spawn({
    command: ['/bin/sh', '-c', 'id -u; cat /proc/self/uid_map; echo $$; hostname'],
    namespaces: ['user', 'pid', 'mount', 'uts'],
    plan: [
      { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
      { op: 'sethostname', hostname: 'nsbox-unpriv' },
    ],
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  result.exit = await child.exited;
  await new Promise((r) => setImmediate(r));
  result.child = { stdout: out, stderr: err };
  // PR_SET_DUMPABLE is per address space: a CLONE_VM child must not make us undumpable,
  // which shows as our /proc files now belonging to root (proc(5)).
  const undumpable = await spawnWith({ command: ['/bin/true'], plan: [{ op: 'dumpable', value: false }], stdio: 'ignore' }, { vm: true });
  result.dumpableExit = await undumpable.exited;
  result.procOwner = fs.statSync('/proc/self/stat').uid;
  try {
    mount({ source: 'tmpfs', target: '/tmp', type: 'tmpfs' });
    result.mount = 'succeeded';
  } catch (e) {
    result.mount = { name: e.constructor.name, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, dest: e.dest, hint: e.hint };
  }
  console.log(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
