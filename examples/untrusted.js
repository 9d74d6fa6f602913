// Run an untrusted script with limits and a timeout, and say why it ended.
//   node examples/untrusted.js 'while :; do :; done'       → timeout
//   node examples/untrusted.js ':(){ :|:& };:'              → pids_max (on a cgroup v2 host with the pids controller)
//   node examples/untrusted.js 'echo hello'                → exit
'use strict';
const { Container } = require('..');

async function main() {
  const script = process.argv[2] ?? 'echo "hello from $(hostname)"; exit 0';
  const result = await Container.run({
    command: ['/bin/sh', '-c', script],
    // Limits need the memory/pids/cpu controllers in cgroup v2; on a hybrid host leave them out.
    ...(process.env.NSBOX_NO_LIMITS ? {} : { resources: { memory: { max: '64M' }, pids: { max: 32 }, cpu: { max: { quota: 50_000, period: 100_000 } } } }),
    capabilities: { drop: ['ALL'] },
    user: process.getuid() === 0 ? { uid: 65534, gid: 65534 } : undefined,
    timeout: 2_000,
  });
  console.log(`stdout: ${JSON.stringify(result.stdout)}`);
  console.log(`stderr: ${JSON.stringify(result.stderr)}`);
  console.log(`ended:  ${result.reason} (exit code ${result.exitCode}, signal ${result.signal}) after ${result.durationMs.toFixed(1)} ms`);
  console.log(`usage:  ${JSON.stringify(result.usage)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
