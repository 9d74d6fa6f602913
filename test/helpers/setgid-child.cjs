// Run by test/kernel/unprivileged.test.ts as uid 65534 holding CAP_SETGID (ambient): a
// setgid step changes the child's credentials, which makes the kernel reset the dumpable
// flag of the child's address space (commit_creds). With CLONE_VM that address space is
// ours; spawn must copy it instead. Prints JSON: who owns /proc/self/environ afterwards
// (root when this process has become non-dumpable).
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { spawn } = require(path.join(__dirname, '..', '..', 'lib', 'index.ts'));

async function main() {
  const before = fs.statSync('/proc/self/environ').uid;
  const child = await spawn({ command: ['/bin/sh', '-c', 'id -g'], plan: [{ op: 'setgid', gid: 1234 }], stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  for await (const chunk of child.stdout) out += chunk;
  const exit = await child.exited;
  console.log(JSON.stringify({ before, after: fs.statSync('/proc/self/environ').uid, gid: out.trim(), exit }));
}
main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack) }));
});
