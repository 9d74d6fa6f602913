// The consuming side of an event iterator, shared by Cgroup.events() and Cgroup.pressure():
// events wait for a next() call, next() calls wait for an event, and an end settles every
// waiter (an error goes to the first one, or to the next call if nobody waits).
export class EventQueue<T> {
  readonly #items: T[] = [];
  readonly #waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  #ended = false;
  #error: unknown;

  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve({ value: item, done: false });
    else this.#items.push(item);
  }

  /** Ends the queue; returns false if it had ended already. */
  end(error?: unknown): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    const waiters = this.#waiting.splice(0);
    if (error !== undefined && waiters.length === 0) this.#error = error;
    waiters.forEach(({ resolve, reject }, i) => (error !== undefined && i === 0 ? reject(error) : resolve({ value: undefined, done: true })));
    return true;
  }

  /** Drops what was queued and not yet taken (an iterator's return()). */
  clear(): void {
    this.#items.length = 0;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#items.length) return Promise.resolve({ value: this.#items.shift()!, done: false });
    if (this.#ended) {
      const error = this.#error;
      this.#error = undefined;
      return error === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(error);
    }
    return new Promise((resolve, reject) => this.#waiting.push({ resolve, reject }));
  }
}
