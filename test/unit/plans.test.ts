// lib/container/plans.ts: a configuration's plan is built once; each container of it gets its
// own hostname written where the placeholder was, and a configuration that differs in anything
// the plan holds gets its own plan.
import { describe, expect, it } from 'vitest';
import { normalizeOptions, type ContainerConfig } from '../../lib/container/options';
import { containerPlan } from '../../lib/container/plans';
import { encodePlan, type EncodedPlan } from '../../lib/plan';

/** A plan that holds the hostname where a container's does: sethostname, /etc/hostname, /etc/hosts, HOSTNAME=. */
function builder(): { build: (c: ContainerConfig) => EncodedPlan; calls: ContainerConfig[] } {
  const calls: ContainerConfig[] = [];
  const build = (c: ContainerConfig) => {
    calls.push(c);
    return encodePlan([
      { op: 'sethostname', hostname: c.hostname },
      { op: 'writeFile', path: '/etc/hostname', data: `${c.hostname}\n` },
      { op: 'writeFile', path: '/etc/hosts', data: `127.0.1.1\t${c.hostname}\n` },
      ...c.mounts.map((m) => ({ op: 'mkdir' as const, path: m.target })),
    ], { file: c.command[0], argv: c.command, env: c.env, searchPath: null });
  };
  return { build, calls };
}

const text = (p: EncodedPlan) => p.buffer.toString('latin1');

describe('containerPlan', () => {
  it('builds a configuration once; each container gets its own id-derived hostname everywhere the plan holds it', () => {
    const { build, calls } = builder();
    const variant = `t${Math.random()}`;
    const a = normalizeOptions({ command: ['/bin/true'], id: 'aaaaaaaaaaaaaaaa' });
    const b = normalizeOptions({ command: ['/bin/true'], id: 'bbbbbbbbbbbbbbbb' });
    const pa = containerPlan(a, variant, build);
    const pb = containerPlan(b, variant, build);
    expect(calls).toHaveLength(1);
    expect(calls[0].hostname).not.toBe(a.hostname); // built with the placeholder
    for (const [p, c, other] of [[pa, a, b], [pb, b, a]] as const) {
      expect(c.hostname).toHaveLength(12);
      const t = text(p);
      expect(t).toContain(`${c.hostname}\0`); // sethostname
      expect(t).toContain(`${c.hostname}\n`); // /etc/hostname
      expect(t).toContain(`127.0.1.1\t${c.hostname}\n`); // /etc/hosts
      expect(t).toContain(`HOSTNAME=${c.hostname}\0`); // the default environment
      expect(t).not.toContain(other.hostname);
      expect(t).not.toContain(calls[0].hostname);
      expect(p.steps[0]).toEqual({ op: 'sethostname', path: c.hostname });
      // Byte for byte what building it for this container would give.
      expect(p.buffer.equals(builder().build(c).buffer)).toBe(true);
    }
    // The kept plan is not written to: the first container's still holds its own hostname.
    expect(text(pa)).toContain(`HOSTNAME=${a.hostname}\0`);
  });

  it('a given hostname, a short id, a different mount or command: a plan of its own, right for it', () => {
    const { build, calls } = builder();
    const variant = `t${Math.random()}`;
    const base = { command: ['/bin/true'], id: 'cccccccccccccccc' };
    const given = normalizeOptions({ ...base, hostname: 'box' });
    expect(text(containerPlan(given, variant, build))).toContain('box\0');
    const short = normalizeOptions({ ...base, id: 'abc' }); // hostname 'abc': too short to patch safely
    expect(text(containerPlan(short, variant, build))).toContain('HOSTNAME=abc\0');
    expect(text(containerPlan(short, variant, build))).toContain('HOSTNAME=abc\0');
    const mounted = normalizeOptions({ ...base, mounts: [{ type: 'tmpfs', target: '/scratch' }] });
    expect(text(containerPlan(mounted, variant, build))).toContain('/scratch\0');
    const other = normalizeOptions({ ...base, command: ['/bin/false'] });
    expect(text(containerPlan(other, variant, build))).toContain('/bin/false\0');
    expect(text(containerPlan(normalizeOptions(base), variant, build))).not.toContain('/scratch');
    // given, short twice (not kept), mounted, other, base: each built
    expect(calls.map((c) => c.command[0])).toEqual(['/bin/true', '/bin/true', '/bin/true', '/bin/true', '/bin/false', '/bin/true']);
    // The variant (fast path, hold) is part of the key.
    containerPlan(normalizeOptions(base), `${variant}-other`, build);
    expect(calls).toHaveLength(7);
  });

  it("a pty's plan (its console socket's fd) is never kept", () => {
    const { build, calls } = builder();
    const c = normalizeOptions({ command: ['/bin/true'], stdio: 'pty', id: 'dddddddddddddddd' });
    containerPlan(c, 'pty', build);
    containerPlan(c, 'pty', build);
    expect(calls).toHaveLength(2);
  });
});
