// The child's plan of a container configuration, encoded once and kept. Building a
// container's ~60 steps (filesystem, protection, security) and encoding them cost more on
// every run than anything else nsbox does in JavaScript; a program that runs many containers
// runs few configurations. Only the hostname differs between two containers of one
// configuration when it comes from their random ids (and with it HOSTNAME= in the default
// environment, /etc/hostname and /etc/hosts of the embedded root): the plan is encoded with a
// placeholder of the same length, and each run copies it and writes its own hostname there.
import crypto from 'node:crypto';
import type { EncodedPlan } from '../plan';
import type { ContainerConfig } from './options';

interface Kept {
  plan: EncodedPlan;
  /** Where the placeholder is in plan.buffer. */
  offsets: number[];
  placeholder: string;
}

const kept = new Map<string, Kept>();
const MAX_KEPT = 64;
// Below this length a placeholder could be found in what else the plan holds (a path, an
// environment value): such hostnames are not patched, their plans not kept.
const MIN_PATCHED = 8;

// Fields that do not reach the plan (the cgroup, the lifecycle), or that reach it through
// the placeholder. Every other field is part of the key, new ones included.
const NOT_IN_PLAN = new Set(['id', 'resources', 'signal', 'timeout', 'cgroupParent', 'stdio', 'hostname', 'env']);

/**
 * The encoded plan for `config` in `variant` (what else shapes the plan: the fast path, a
 * hold), from `build(config)` the first time and from the kept copy after. `build` must make
 * the plan from the config it is given and nothing else that changes between calls.
 */
export function containerPlan(config: ContainerConfig, variant: string, build: (c: ContainerConfig) => EncodedPlan): EncodedPlan {
  // A pty's plan holds the console socket's fd, new each time.
  if (config.stdio === 'pty') return build(config);
  const patched = config.hostnameFromId;
  if (patched && config.hostname.length < MIN_PATCHED) return build(config);
  const key = keyOf(config, variant);
  let k = kept.get(key);
  if (k === undefined) {
    const placeholder = patched ? placeholderOf(config.hostname.length) : config.hostname;
    const template = patched ? withHostname(config, placeholder) : config;
    const plan = build(template);
    const offsets: number[] = [];
    if (patched) for (let at = plan.buffer.indexOf(placeholder); at >= 0; at = plan.buffer.indexOf(placeholder, at + 1)) offsets.push(at);
    k = { plan, offsets, placeholder };
    if (kept.size >= MAX_KEPT) kept.clear();
    kept.set(key, k);
  }
  if (!patched) return k.plan;
  const buffer = Buffer.from(k.plan.buffer);
  for (const at of k.offsets) buffer.write(config.hostname, at, 'latin1');
  const steps = k.plan.steps.map((s) => (s.path?.includes(k!.placeholder) ? { ...s, path: s.path.replaceAll(k!.placeholder, config.hostname) } : s));
  return { buffer, steps, traits: k.plan.traits };
}

function keyOf(c: ContainerConfig, variant: string): string {
  const rest = JSON.stringify(c, function (this: unknown, key: string, value: unknown) {
    if (typeof value === 'bigint') return `${value}n`;
    // Only the config's own fields are dropped: `this` is the object holding `key`.
    return this === c && NOT_IN_PLAN.has(key) ? undefined : value;
  });
  const hostname = c.hostnameFromId ? `#${c.hostname.length}` : c.hostname;
  return JSON.stringify([variant, hostname, c.hostnameFromId ? envWithHostname(c, '#') : c.env]) + rest;
}

/** Lowercase letters, random: in nothing else a plan holds. */
function placeholderOf(length: number): string {
  const bytes = crypto.randomBytes(length);
  let s = '';
  for (const b of bytes) s += String.fromCharCode(97 + (b % 26));
  return s;
}

function withHostname(c: ContainerConfig, hostname: string): ContainerConfig {
  return { ...c, hostname, env: envWithHostname(c, hostname) };
}

/** The environment with `hostname` in the HOSTNAME= the default one holds (others as they are). */
function envWithHostname(c: ContainerConfig, hostname: string): string[] {
  return c.envDefaulted ? c.env.map((e) => (e === `HOSTNAME=${c.hostname}` ? `HOSTNAME=${hostname}` : e)) : c.env;
}
