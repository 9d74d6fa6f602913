// Network namespaces made ahead. Creating one is the dearest part of a namespaced spawn
// (≈0.3 ms of kernel work inside clone, see bench/README.md); made on a libuv pool thread
// instead, it costs the spawn one setns in the child. The pool starts with the first spawn
// that asks for a 'net' namespace without 'user' (a pooled namespace belongs to this
// process's user namespace, so a child in a new user namespace would not own it), refills in
// the background, and turns itself off for good if the kernel refuses (no CAP_SYS_ADMIN).
// The addon holds the fds (closed with the environment, e.g. a terminated worker); this
// module decides how many.
import { native } from './native';

let size = defaultSize();
let refused = false;
const idle: (() => void)[] = [];

function defaultSize(): number {
  const n = Number(process.env.NSBOX_NETNS_POOL ?? 2);
  return Number.isInteger(n) && n >= 0 && n <= 64 ? n : 2;
}

function onMade(error: Error | null): void {
  // Refused for good only when not allowed; ENOMEM, ENOSPC (user.max_net_namespaces) may pass.
  const code = (error as { code?: string } | null)?.code;
  if (code === 'EPERM' || code === 'EACCES') refused = true;
  if (native.netnsPoolState()[1] === 0) for (const resolve of idle.splice(0)) resolve();
}

function refill(): void {
  if (refused) return;
  const [ready, making] = native.netnsPoolState();
  if (ready + making < size) native.netnsPoolFill(size - ready - making, onMade);
}

/**
 * A fresh network namespace's fd for one spawn (the caller closes it), or undefined. The
 * caller starts the refill with {@link refillNetns} once its clone is done: a refill started
 * before it runs its namespace's creation (~0.3 ms in the kernel, not preemptible there) on
 * the other core just as the child is woken, and the child waits for it.
 */
export function takeNetns(): number | undefined {
  if (size === 0) return undefined;
  const fd = native.netnsPoolTake();
  return fd >= 0 ? fd : undefined;
}

/** Makes the pool whole again in the background (after a {@link takeNetns}). */
export function refillNetns(): void {
  if (size !== 0) refill();
}

/**
 * How many network namespaces nsbox keeps made ahead for namespaced spawns (default 2, or
 * the environment's `NSBOX_NETNS_POOL`); 0 turns the pool off and closes those it holds. They
 * are fresh, empty namespaces (a loopback device, down), what `CLONE_NEWNET` would make.
 */
export function setNetnsPoolSize(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 64) {
    throw new RangeError(`The value of "n" is out of range. It must be an integer >= 0 and <= 64. Received ${n}`);
  }
  size = n;
  if (native.netnsPoolState()[0] > size) native.netnsPoolDrain();
}

/** Closes the namespaces held and those being made; the pool refills on the next namespaced spawn. */
export function drainNetnsPool(): Promise<void> {
  native.netnsPoolDrain();
  return netnsPoolSettled();
}

/** @internal Resolves when no namespace is being made (tests). */
export function netnsPoolSettled(): Promise<void> {
  return native.netnsPoolState()[1] === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
}

/** @internal How many namespaces are held now (tests). */
export function netnsPoolHeld(): number {
  return native.netnsPoolState()[0];
}
