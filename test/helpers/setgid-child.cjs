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
  // This process holds CAP_SETGID as an ambient capability, which a child inherits; a
  // capabilities step with ambient [] must clear it (PR_CAP_AMBIENT_CLEAR_ALL).
  const caps = await spawn({
    command: ['/bin/sh', '-c', 'grep CapAmb /proc/self/status; grep CapAmb /proc/$PPID/status'],
    plan: [{ op: 'capabilities', permitted: ['CAP_SETGID'], effective: ['CAP_SETGID'], inheritable: ['CAP_SETGID'], ambient: [] }],
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let capsOut = '';
  for await (const chunk of caps.stdout) capsOut += chunk;
  await caps.exited;
  const [ambientChild] = capsOut.trim().split('\n').map((l) => l.split(/\s+/)[1]);
  const ambientOurs = fs.readFileSync('/proc/self/status', 'utf8').match(/^CapAmb:\s+(\w+)$/m)[1];
  console.log(JSON.stringify({ before, after: fs.statSync('/proc/self/environ').uid, gid: out.trim(), exit, ambientOurs, ambientChild }));
}
main().catch((e) => {
  console.log(JSON.stringify({ error: String(e && e.stack) }));
});
