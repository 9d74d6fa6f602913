// /proc/self/mountinfo, parsed: where filesystems are mounted, as this mount namespace sees them.
import fs from 'node:fs';

export interface MountEntry {
  /** The directory of the filesystem that is mounted here (field 4: `/` for a whole filesystem). */
  root: string;
  mountPoint: string;
  fstype: string;
  superOptions: string[];
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** proc(5): `id parent major:minor root mountpoint options [optional…] - fstype source superoptions`. */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0 || fields.length < dash + 4) continue;
    entries.push({
      root: unescape(fields[3]),
      mountPoint: unescape(fields[4]),
      fstype: fields[dash + 1],
      superOptions: fields[dash + 3].split(','),
    });
  }
  return entries;
}

export function readMountinfo(): MountEntry[] {
  return parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

/** The mount a path lives on: the last-mounted one whose mount point is its longest prefix. */
export function mountOf(mounts: readonly MountEntry[], file: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const inside = m.mountPoint === '/' || file === m.mountPoint || file.startsWith(`${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}
