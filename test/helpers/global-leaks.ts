// After the whole run (globalSetup teardown, in the main vitest process): no cgroup and no
// mount named nsbox-test-* may remain, whichever test file made it.
import fs from 'node:fs';
import { cgroupHost } from '../../lib/cgroup/discover';

// The cgroup2 mount: /sys/fs/cgroup/unified on this hybrid host, /sys/fs/cgroup in the VM lane.
const CGROUP_ROOT = cgroupHost().mount ?? '/sys/fs/cgroup/unified';

export default function setup(): () => void {
  return () => {
    const problems: string[] = [];
    try {
      for (const g of fs.readdirSync(CGROUP_ROOT)) if (g.startsWith('nsbox-test-')) problems.push(`cgroup ${CGROUP_ROOT}/${g}`);
    } catch {
      // no cgroup v2 there
    }
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      if (line.includes('nsbox-test')) problems.push(`mount: ${line}`);
    }
    if (problems.length) throw new Error(`nsbox tests left behind:\n  ${problems.join('\n  ')}`);
  };
}
