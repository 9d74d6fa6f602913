import { it, expect } from 'vitest';
import fs from 'node:fs';
import { spawn } from '../../lib/index';
it('try', async () => {
  console.log(fs.readdirSync('/proc/self/fd').map(f => { try { return f + '->' + fs.readlinkSync('/proc/self/fd/' + f); } catch { return f; } }));
  const c = await spawn({ command: ['/bin/sh', '-c', 'echo $$; ls -l /proc/self/fd'], namespaces: ['pid'], stdio: ['ignore', 'pipe', 'inherit'] });
  let out = ''; c.stdout!.on('data', (d) => (out += d));
  console.log(await c.exited, out, c.clone);
  await new Promise(r => setTimeout(r, 50));
  console.log(fs.readdirSync('/proc/self/fd').map(f => { try { return f + '->' + fs.readlinkSync('/proc/self/fd/' + f); } catch { return f; } }));
});
