// Network namespaces made ahead. Creating one is the dearest part of a namespaced spawn
// (≈0.3 ms of kernel work inside clone, see bench/README.md); made ahead on a thread of the
// addon's instead (one per environment, at nice 19), it costs the spawn one setns in the
// child. The pool starts with the first spawn that asks for a 'net' namespace without
// 'user' (a pooled namespace belongs to this process's user namespace, so a child in a new
// user namespace would not own it), refills in the background, and turns itself off for good
// if the kernel refuses (no CAP_SYS_ADMIN).
// The addon holds the fds (closed with the environment, e.g. a terminated worker); this
// module decides how many.
//
// Two kinds: as CLONE_NEWNET makes them (loopback down), and with the loopback up, for
// plans that bring it up themselves (a Container's network 'none', as Docker's): the
// interface's setup (addresses, routes, IPv6) then happens on that thread too. The first
// of that kind also makes the sysfs template (the mountSysfs step) in a namespace of its own.
import { native } from './native';

/** 0: as CLONE_NEWNET makes it; 1: its loopback device up. */
export type NetnsKind = 0 | 1;

// Without an explicit size the pool grows when a spawn finds it empty (more spawns in flight
// than it holds, each of which would otherwise make its namespace inside its clone), up to this.
const MAX_ADAPTIVE = 16;

let fixed = process.env.NSBOX_NETNS_POOL !== undefined;
let base = defaultSize();
const sizes = [base, base];
const started = [false, false];
let refused = false;
const idle: (() => void)[] = [];

function defaultSize(): number {
  const n = Number(process.env.NSBOX_NETNS_POOL ?? 2);
  return Number.isInteger(n) && n >= 0 && n <= 64 ? n : 2;
}

function making(): number {
  const s = native.netnsPoolState();
  return s[1] + s[3];
}

function onMade(error: Error | null): void {
  // Refused for good only when not allowed; ENOMEM, ENOSPC (user.max_net_namespaces) may pass.
  const code = (error as { code?: string } | null)?.code;
  if (code === 'EPERM' || code === 'EACCES') refused = true;
  if (making() === 0) for (const resolve of idle.splice(0)) resolve();
}

/**
 * A fresh network namespace's fd for one spawn (the caller closes it), or undefined. The
 * caller starts the refill with {@link refillNetns} once its clone is done: a refill started
 * before it runs its namespace's creation (~0.3 ms in the kernel, not preemptible there) on
 * the other core just as the child is woken, and the child waits for it.
 */
export function takeNetns(kind: NetnsKind = 0): number | undefined {
  if (base === 0) return undefined;
  const fd = native.netnsPoolTake(kind);
  if (fd < 0 && started[kind] && !fixed) sizes[kind] = Math.min(sizes[kind] * 2, MAX_ADAPTIVE);
  started[kind] = true;
  return fd >= 0 ? fd : undefined;
}

/**
 * The sysfs template's fd (the addon keeps it), or undefined until the first namespace of
 * kind 1 has been made (with it) or where the kernel could not make one. See the mountSysfs step.
 */
export function sysfsTemplate(): number | undefined {
  // Made once per environment and kept until it ends: asked of the addon until it is there.
  if (template === undefined) {
    const fd = native.netnsSysfsTemplate();
    if (fd >= 0) template = fd;
  }
  return template;
}
let template: number | undefined;

/**
 * Makes the pool of that kind whole again in the background (after a {@link takeNetns}). With
 * `unlessHeld`, only if it holds none of that kind now; returns whether it started a refill.
 */
export function refillNetns(kind: NetnsKind = 0, { unlessHeld = false } = {}): boolean {
  if (base === 0 || refused) return false;
  const s = native.netnsPoolState();
  if (unlessHeld && s[2 * kind] > 0) return false;
  const have = s[2 * kind] + s[2 * kind + 1];
  if (have >= sizes[kind]) return true;
  try {
    native.netnsPoolFill(sizes[kind] - have, kind, onMade);
  } catch {
    // No thread to make them (a thread limit): spawns make their own until one can be had.
    return false;
  }
  return true;
}

/**
 * How many network namespaces nsbox keeps made ahead for namespaced spawns, of each kind;
 * 0 turns the pool off and closes those it holds. `'auto'` (the default): 2, growing up to 16
 * while spawns find it empty. The environment's `NSBOX_NETNS_POOL` sets a fixed size at
 * start. They are fresh, empty namespaces (a loopback device, down, or up where the spawn's
 * plan brings it up), what `CLONE_NEWNET` would make.
 */
export function setNetnsPoolSize(n: number | 'auto'): void {
  if (n !== 'auto' && (!Number.isInteger(n) || n < 0 || n > 64)) {
    throw new RangeError(`The value of "n" is out of range. It must be 'auto' or an integer >= 0 and <= 64. Received ${n}`);
  }
  fixed = n !== 'auto';
  base = n === 'auto' ? 2 : n;
  sizes[0] = sizes[1] = base;
  const s = native.netnsPoolState();
  if (s[0] > base || s[2] > base) native.netnsPoolDrain();
}

/** Closes the namespaces held and those being made; the pool refills (from its base size) on the next namespaced spawn. */
export function drainNetnsPool(): Promise<void> {
  native.netnsPoolDrain();
  sizes[0] = sizes[1] = base;
  started[0] = started[1] = false;
  return netnsPoolSettled();
}

/** @internal Resolves when no namespace is being made (tests). */
export function netnsPoolSettled(): Promise<void> {
  return making() === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
}

/** @internal How many namespaces are held now, of one kind or of both (tests). */
export function netnsPoolHeld(kind?: NetnsKind): number {
  const s = native.netnsPoolState();
  return kind === undefined ? s[0] + s[2] : s[2 * kind];
}
