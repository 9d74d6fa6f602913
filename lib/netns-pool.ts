// Network namespaces made ahead. Creating one is the dearest part of a namespaced spawn
// (≈0.3 ms of kernel work inside clone, see bench/README.md); made on a libuv pool thread
// instead, it costs the spawn one setns in the child. The pool starts with the first spawn
// that asks for a 'net' namespace without 'user' (a pooled namespace belongs to this
// process's user namespace, so a child in a new user namespace would not own it), refills in
// the background, and turns itself off for good if the kernel refuses (no CAP_SYS_ADMIN).
import fs from 'node:fs';
import { native } from './native';

let size = defaultSize();
const ready: number[] = [];
let making = 0;
let generation = 0;
let refused = false;
const idle: (() => void)[] = [];

function defaultSize(): number {
  const n = Number(process.env.NSBOX_NETNS_POOL ?? 2);
  return Number.isInteger(n) && n >= 0 && n <= 64 ? n : 2;
}

function refill(): void {
  while (!refused && ready.length + making < size) {
    making++;
    const gen = generation;
    native.netnsCreate((error, fd) => {
      making--;
      if (error) refused = true;
      else if (gen === generation && ready.length < size) ready.push(fd!);
      else fs.closeSync(fd!);
      if (making === 0) for (const resolve of idle.splice(0)) resolve();
    });
  }
}

/** A fresh network namespace's fd for one spawn (the caller closes it), or undefined; starts a refill. */
export function takeNetns(): number | undefined {
  if (size === 0) return undefined;
  const fd = ready.pop();
  refill();
  return fd;
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
  while (ready.length > size) fs.closeSync(ready.pop()!);
}

/** Closes the namespaces held and those being made; the pool refills on the next namespaced spawn. */
export function drainNetnsPool(): Promise<void> {
  generation++;
  while (ready.length) fs.closeSync(ready.pop()!);
  return making === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
}

/** @internal Resolves when no namespace is being made (tests). */
export function netnsPoolSettled(): Promise<void> {
  return making === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
}

/** @internal How many namespaces are held now (tests). */
export function netnsPoolHeld(): number {
  return ready.length;
}
