// The README demo: a real container on the embedded default root — the host's /usr
// read-only, a fresh /tmp, a minimal /etc — in its own pid, mount, uts, ipc, net and cgroup
// namespaces, with Docker's capabilities and seccomp profile. Nothing is downloaded.
'use strict';
const os = require('node:os');
const { Container } = require('..');

async function main() {
  const script = [
    'echo "inside:  pid $$, hostname $(hostname), user $(id -un)"',
    'echo "root:    $(ls / | tr "\\n" " ")"',
    'echo "network: $(ls /sys/class/net | tr "\\n" " ")"',
    'echo "seccomp: $(grep Seccomp: /proc/self/status | cut -f2), no_new_privs: $(grep NoNewPrivs /proc/self/status | cut -f2)"',
    'touch /usr/x 2>/dev/null || echo "/usr:    read-only"',
  ].join('; ');
  console.log(`outside: pid ${process.pid}, hostname ${os.hostname()}`);
  const result = await Container.run({
    command: ['/bin/sh', '-c', script],
    hostname: 'nsbox-demo',
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 10_000,
  });
  console.log(`\nresult:  ${JSON.stringify({ exitCode: result.exitCode, reason: result.reason, durationMs: Math.round(result.durationMs * 100) / 100 })}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
