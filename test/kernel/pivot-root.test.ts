// pivot_root into a tiny root file system (the host's /usr read-only, the usual symlinks,
// a proc): the child sees only the new root, nothing of the old one is reachable or mounted.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Step } from '../../lib/index';
import { STRATEGIES, ns, rmTmp, run, sh, tmpDir } from '../helpers/env';
import { mountPoints } from '../helpers/proc';

const usrMerged = ['bin', 'lib', 'lib64', 'sbin'].filter((l) => fs.existsSync(`/usr/${l}`));

describe.each(STRATEGIES)('pivotRoot ($name)', ({ internals }) => {
  let dir: string;
  let rootfs: string;
  let marker: string;

  beforeEach(() => {
    dir = tmpDir('root');
    rootfs = path.join(dir, 'rootfs');
    for (const d of ['usr', 'proc', 'tmp']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
    for (const l of usrMerged) fs.symlinkSync(`usr/${l}`, path.join(rootfs, l));
    // Exists in the old root only.
    marker = path.join(dir, 'marker-of-the-old-root');
    fs.writeFileSync(marker, 'old');
  });
  afterEach(() => rmTmp(dir));

  const plan = (pivot: Step): Step[] => [
    { op: 'mountSetattr', path: '/', recursive: true, propagation: 'private' },
    { op: 'bind', source: rootfs, target: rootfs },
    { op: 'bind', source: '/usr', target: `${rootfs}/usr`, recursive: true, readonly: true },
    { op: 'mount', source: 'proc', target: `${rootfs}/proc`, type: 'proc', flags: { nosuid: true, nodev: true, noexec: true } },
    pivot,
  ];

  const script = () => [
    'ls -A /',
    'echo ---',
    `test -e ${marker} && echo reachable || echo unreachable`,
    `test -e ${dir} && echo reachable || echo unreachable`,
    // access(W_OK) answers EROFS on a read-only mount without writing: a broken read-only
    // bind cannot leave a file in the host's /usr.
    'test -w /usr && echo usr-writable || echo usr-read-only',
    'echo ---',
    'cat /proc/self/mountinfo',
  ].join('; ');

  it.each([
    ['the old root stacked and detached in place (no putOld)', undefined],
    ['the old root moved to putOld, then detached and removed', '.old'],
  ])('%s', async (_, putOld) => {
    if (putOld) fs.mkdirSync(path.join(rootfs, putOld));
    const pivot: Step = putOld ? { op: 'pivotRoot', newRoot: rootfs, putOld: path.join(rootfs, putOld) } : { op: 'pivotRoot', newRoot: rootfs };
    const { stdout, stderr, status } = await run({ command: sh(script()), namespaces: ns('mount', 'pid'), plan: plan(pivot) }, internals);
    expect(stderr).toBe('');
    expect(status).toEqual({ code: 0, signal: null });
    const [ls, probes, mountinfo] = stdout.split('---\n');
    // Only the new root's entries; putOld is gone (the step removes it).
    expect(ls.trim().split('\n').sort()).toEqual(['proc', 'tmp', 'usr', ...usrMerged].sort());
    expect(probes.split('\n').slice(0, 2)).toEqual(['unreachable', 'unreachable']);
    expect(fs.readFileSync(marker, 'utf8')).toBe('old'); // it is there, only not for the child
    expect(probes).toContain('usr-read-only');
    // No mount of the old root is left: only the new root, its /usr and its /proc.
    expect([...new Set(mountPoints(mountinfo))].sort()).toEqual(['/', '/proc', '/usr']);
    // And the host saw none of it.
    expect(mountPoints()).not.toContain(rootfs);
    expect(fs.readdirSync(path.join(rootfs, 'usr'))).toEqual([]);
    expect(fs.existsSync(path.join(rootfs, '.old'))).toBe(false);
  });
});
