/**
 * A small bounded memo for pure, keyed computations (HMAC routes, `sub` values, opened session
 * ids). Creating a Node HMAC or cipher costs microseconds, and one code exchange needs the same
 * route several times, so remembering recent results is most of the speed of the hot paths.
 *
 * Bounded twice, so no input can grow it: at most `capacity` entries (the oldest is dropped
 * first), and keys longer than `maxKeyLength` are computed every time, never stored.
 */
export class Memo<V> {
  readonly #entries = new Map<string, V>();
  readonly #capacity: number;
  readonly #maxKeyLength: number;

  constructor(capacity: number, maxKeyLength: number) {
    this.#capacity = capacity;
    this.#maxKeyLength = maxKeyLength;
  }

  /** The remembered value for `key`, or `compute()` (remembered when the key is short enough). */
  get(key: string, compute: () => V): V {
    const hit = this.#entries.get(key);
    if (hit !== undefined) return hit;
    const value = compute();
    this.set(key, value);
    return value;
  }

  /** The remembered value, if any. */
  peek(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /** Remembers a value computed elsewhere (e.g. the path of a session id just sealed). */
  set(key: string, value: V): void {
    if (key.length > this.#maxKeyLength) return;
    if (this.#entries.size >= this.#capacity && !this.#entries.has(key)) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, value);
  }
}
