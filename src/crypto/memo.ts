/**
 * A small bounded memo for pure, keyed computations (HMAC routes, `sub` values, opened session
 * ids). Creating a Node HMAC or cipher costs microseconds, and one code exchange needs the same
 * route several times, so remembering recent results is most of the speed of the hot paths.
 *
 * Bounded twice, so no input can grow it: at most `capacity` entries, and keys longer than
 * `maxKeyLength` are computed every time, never stored. Two generations of capacity/2 each:
 * when the current one is full it becomes the previous one and the old previous one is dropped
 * whole, so an insert never pays for evicting single entries; a hit in the previous generation
 * moves the entry back into the current one, so what is in use stays.
 */
export class Memo<V> {
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  readonly #generation: number;
  readonly #maxKeyLength: number;

  constructor(capacity: number, maxKeyLength: number) {
    this.#generation = Math.max(1, Math.floor(capacity / 2));
    this.#maxKeyLength = maxKeyLength;
  }

  /** The remembered value for `key`, or `compute()` (remembered when the key is short enough). */
  get(key: string, compute: () => V): V {
    const hit = this.peek(key);
    if (hit !== undefined) return hit;
    const value = compute();
    this.set(key, value);
    return value;
  }

  /** The remembered value, if any. */
  peek(key: string): V | undefined {
    const hit = this.#current.get(key);
    if (hit !== undefined) return hit;
    const old = this.#previous.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  /** Remembers a value computed elsewhere (e.g. the path of a session id just sealed). */
  set(key: string, value: V): void {
    if (key.length > this.#maxKeyLength) return;
    if (this.#current.size >= this.#generation) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(key, value);
  }
}
