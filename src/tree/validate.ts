/**
 * Argument checks at the public boundary. Every failure is an {@link InvalidInput}; nothing
 * below this layer ever sees a non-string id, an ill-formed UTF-16 string or an oversized
 * value, so no input can make two ids collide or reach a prototype (B-01..B-03, fault 19).
 */
import { Memo } from '../crypto/memo.js';
import { InvalidInput } from '../errors.js';

/** Longest user, client or grant id accepted, in UTF-16 code units. */
export const MAX_ID_LENGTH = 4096;
/** Longest token value accepted (JWT values with claims included). */
export const MAX_TOKEN_LENGTH = 8192;
/** Longest scope list and scope string accepted. */
export const MAX_SCOPES = 256;
export const MAX_SCOPE_LENGTH = 256;

/**
 * A non-empty, well-formed string of at most `max` code units. Lone surrogates are refused:
 * they would all encode to U+FFFD in UTF-8 and so make distinct ids collide.
 */
export function requireId(value: unknown, name: string, max = MAX_ID_LENGTH): string {
  if (typeof value !== 'string') throw new InvalidInput(`${name} must be a string`);
  if (value.length === 0) throw new InvalidInput(`${name} must not be empty`);
  if (value.length > max) throw new InvalidInput(`${name} is longer than ${max} characters`);
  if (!value.isWellFormed()) throw new InvalidInput(`${name} is not a well-formed string`);
  return value;
}

export function optionalId(value: unknown, name: string): string | undefined {
  return value === undefined ? undefined : requireId(value, name);
}

export function requireTokenValue(value: unknown): string {
  return requireId(value, 'token value', MAX_TOKEN_LENGTH);
}

/**
 * Lists already handed out. A list is stored in every grant and token, and most grants of a
 * provider carry one of a few scopes, so equal lists share one frozen array instead of a copy
 * per record (about 80 bytes each). The key is a string that parses to the list: the caller's
 * space-separated string, or the entries joined with a space (entries hold no white space, so
 * that join parses back to exactly them). Bounded like every memo.
 */
const LISTS = new Memo<readonly string[]>(1024, 512);
/** Made once: a regular expression literal in a function is a new object on every evaluation. */
const WHITE_SPACE = /\s/;

/**
 * A list of distinct scope strings without spaces, as a frozen array. Equal lists may be the
 * same array: it is frozen, so no holder can change another's.
 */
export function requireScopes(value: unknown, name = 'scope'): readonly string[] {
  if (typeof value === 'string') {
    const known = LISTS.peek(value);
    if (known !== undefined) return known;
  }
  let entries: unknown[];
  if (typeof value === 'string') entries = value.split(' ');
  else if (!isArray(value, name)) throw new InvalidInput(`${name} must be an array of strings or a space-separated string`);
  else if (value.length > MAX_SCOPES) throw new InvalidInput(`${name} has more than ${MAX_SCOPES} entries`);
  // A copy: each entry is read once, so what is checked is what is kept, whatever the array does on reads.
  else entries = Array.prototype.slice.call(value);
  let count = 0;
  for (const s of entries) {
    if (s === '' && typeof value === 'string') continue; // runs of spaces in a string
    if (++count > MAX_SCOPES) throw new InvalidInput(`${name} has more than ${MAX_SCOPES} entries`);
    requireId(s, `${name} entry`, MAX_SCOPE_LENGTH);
    if (WHITE_SPACE.test(s as string)) throw new InvalidInput(`${name} entries must not contain white space`);
  }
  const key = typeof value === 'string' ? value : entries.join(' ');
  let shared = LISTS.peek(key);
  if (shared === undefined) {
    const out: string[] = [];
    for (const s of entries as string[]) if (s !== '' && !out.includes(s)) out.push(s);
    // slice(): an exact-size copy. `out` grew by push and holds room for 17 entries; this list
    // stays in stored records, and the slack would be most of its size.
    shared = Object.freeze(out.slice());
    LISTS.set(key, shared);
  }
  return shared;
}

/** `value` itself if it is an object (not null, not an array), else {@link InvalidInput}. */
export function requireObject(value: unknown, name: string): object {
  if (value === null || typeof value !== 'object' || isArray(value, name)) {
    throw new InvalidInput(`${name} must be an object`);
  }
  return value;
}

/** Array.isArray, with {@link InvalidInput} (not a TypeError) for a revoked Proxy. */
export function isArray(value: unknown, name: string): value is readonly unknown[] {
  try {
    return Array.isArray(value);
  } catch {
    throw new InvalidInput(`${name} is a revoked proxy`);
  }
}

/**
 * `o[key]` if `key` is an own property of `o`, else undefined: nothing inherited (a polluted
 * `Object.prototype` cannot answer), read once. For hot paths that need a field or two of an
 * options object without copying it (see {@link requirePlainObject}).
 */
export function ownProperty(o: object, key: string): unknown {
  return Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;
}

/**
 * An options or data object, as a copy of its own enumerable properties on a null prototype:
 * nothing it inherits is ever read — not an `Object.create(...)` parent, not a polluted
 * `Object.prototype` (a prototype-pollution gadget could otherwise supply a missing option) —
 * and each getter runs once, so a value can't change between its check and its use.
 */
export function requirePlainObject(value: unknown, name: string): Record<string, unknown> {
  const o = requireObject(value, name);
  // A spread defines (never assigns) each property, reading each once; then the prototype goes.
  // ~50 ns and the copy keeps fast properties (Object.create(null) makes a dictionary-mode
  // object, twice as slow from 5 keys on and slower to read).
  return Object.setPrototypeOf({ ...o }, null) as Record<string, unknown>;
}

export function requireFiniteNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidInput(`${name} must be a finite number`);
  return value;
}

/** Largest JSON document (in characters) accepted in a record field such as an auth request. */
export const MAX_JSON_LENGTH = 64 * 1024;

/**
 * Deep copy of JSON data, refusing functions, cycles, non-finite
 * numbers and anything larger than {@link MAX_JSON_LENGTH}. Keys such as `__proto__` stay
 * ordinary data.
 */
export function cloneJson(value: unknown, name: string): unknown {
  // A plain recursive function with its state in one object: a closure per call, a Set and a
  // defineProperty per key made this the dearest step of createSession (~4 us for 4 keys).
  return cloneValue(value, 0, { budget: MAX_JSON_LENGTH, path: [], name });
}

/** {@link cloneJson} of a value that must be an object (not an array): one copy, not two. */
export function cloneJsonObject(value: unknown, name: string): Record<string, unknown> {
  return cloneJson(requireObject(value, name), name) as Record<string, unknown>;
}

interface CloneState {
  budget: number;
  /** The objects being copied, outermost first: meeting one again is a cycle. */
  readonly path: object[];
  readonly name: string;
}

/** The string-keyed own properties of `o`, defined (not assigned) on a new object. */
function withoutSymbols(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) Object.defineProperty(out, k, { value: o[k], enumerable: true, writable: true, configurable: true });
  return out;
}

function cloneValue(v: unknown, depth: number, st: CloneState): unknown {
  if (depth > 32) throw new InvalidInput(`${st.name} is nested too deeply`);
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new InvalidInput(`${st.name} contains a non-finite number`);
    return v;
  }
  if (typeof v === 'string') {
    st.budget -= v.length + 2;
    if (st.budget < 0) throw new InvalidInput(`${st.name} is too large`);
    return v;
  }
  if (typeof v !== 'object') throw new InvalidInput(`${st.name} must be JSON data`);
  if (st.path.includes(v)) throw new InvalidInput(`${st.name} contains a cycle`);
  st.path.push(v);
  let out: unknown;
  if (isArray(v, st.name)) {
    out = v.map((x) => cloneValue(x, depth + 1, st));
  } else {
    // A spread defines (never assigns) each own enumerable property, reading each once: a
    // `__proto__` key stays an own data property and no setter on Object.prototype sees the
    // data. Values are then checked, and objects deep-copied, in place (assigning to an own
    // data property, `__proto__` included, only writes that property).
    let o: Record<string, unknown> = { ...(v as Record<string, unknown>) };
    if (Object.getOwnPropertySymbols(o).length > 0) o = withoutSymbols(o);
    for (const k of Object.keys(o)) {
      st.budget -= k.length + 3;
      if (st.budget < 0) throw new InvalidInput(`${st.name} is too large`);
      const x = o[k];
      const copy = cloneValue(x, depth + 1, st);
      if (copy !== x) o[k] = copy;
    }
    out = o;
  }
  st.path.pop();
  return out;
}
