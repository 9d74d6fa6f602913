// Exec into a running container: a long-lived container, then a second program that joins
// its namespaces, cgroup and security settings.
'use strict';
const { Container } = require('..');

async function main() {
  const c = await Container.create({ command: ['/bin/sh', '-c', 'echo started > /tmp/state; sleep 60'], hostname: 'exec-demo', stdio: 'ignore' });
  try {
    await c.start();
    const p = await c.exec(['/bin/sh', '-c', 'while [ ! -f /tmp/state ]; do sleep 0.01; done; echo "exec: pid $$ on $(hostname), sees $(cat /tmp/state); ps:"; ls /proc | grep "^[0-9]"']);
    p.stdout.pipe(process.stdout);
    console.log('exec exit:', await p.exited);
    await c.kill('SIGKILL');
    console.log('container:', (await c.wait()).reason);
  } finally {
    await c.delete();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
