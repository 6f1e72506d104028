/**
 * Key and field names of the Redis layout (see `redis-store.ts` for the whole picture).
 *
 * Everything of one user lives under the hash tag `{<route>}`, so one Lua script can touch the
 * user's whole subtree in one slot of a Redis Cluster. Ids are untrusted strings of up to 4 kB
 * (fault 19), so they never appear raw in key names: a user is named by a hash of its id, a grant
 * by a hash of (client id, grant id), and ids kept inside records are escaped so that the few
 * separators the scripts split on can't occur in them.
 */
import { createHash } from 'node:crypto';
import { encodeParts } from '../crypto/encoding.js';
import { Memo } from '../crypto/memo.js';

/** A route as the manager makes them (base64url). Anything else can't name a stored user. */
const ROUTE = /^[A-Za-z0-9_-]{1,16}$/;

export function isRoute(route: unknown): route is string {
  return typeof route === 'string' && ROUTE.test(route);
}

/** Characters of the hash naming a user (96 bits; a collision is also detected and refused). */
const USER_HASH_LENGTH = 16;
/** Characters of the hash naming a grant inside its user (66 bits; collisions are refused). */
export const GRANT_HASH_LENGTH = 11;

function digest(data: string | Uint8Array, length: number): string {
  return createHash('sha256').update(data).digest('base64url').slice(0, length);
}

// Every store call names its user (and most their grant) by these hashes, several times per
// code exchange: recent ones are remembered instead of hashed again.
const userHashes = new Memo<string>(2048, 4200);
const grantHashes = new Memo<string>(2048, 8500);

/** The name of a user inside its route. */
export function userHash(userId: string): string {
  let h = userHashes.peek(userId);
  if (h === undefined) userHashes.set(userId, (h = digest(encodeParts([userId]), USER_HASH_LENGTH)));
  return h;
}

/** The name of a grant inside its user: injective encoding of (client id, grant id). */
export function grantHash(clientId: string, grantId: string): string {
  const key = `${clientId.length}:${clientId}${grantId}`; // length-prefixed: injective
  let h = grantHashes.peek(key);
  if (h === undefined) grantHashes.set(key, (h = digest(encodeParts([clientId, grantId]), GRANT_HASH_LENGTH)));
  return h;
}

/**
 * Escapes the separators the scripts split records on (tab, newline) and the escape character
 * itself. Injective, so escaped ids compare exactly like the ids.
 */
export function esc(s: string): string {
  return /[%\t\n]/.test(s) ? s.replace(/[%\t\n]/g, (c) => (c === '%' ? '%25' : c === '\t' ? '%09' : '%0A')) : s;
}

export function unesc(s: string): string {
  return s.includes('%') ? s.replace(/%(25|09|0A)/g, (_m, h: string) => (h === '25' ? '%' : h === '09' ? '\t' : '\n')) : s;
}

/** Key names of one route. `base` is what the scripts receive to build the same names. */
export class RouteKeys {
  readonly base: string;
  constructor(prefix: string, route: string) {
    this.base = `${prefix}{${route}}`;
  }
  /** The user's HASH: the user record, its client sessions and its grants. */
  user(uh: string): string {
    return `${this.base}u:${uh}`;
  }
  /** The user's expiry index (ZSET scored by expiry): its grants and its tokens. */
  index(uh: string): string {
    return `${this.base}x:${uh}`;
  }
  /** A token (or the reuse marker of a consumed one), by the hash of its value. */
  token(hash: string): string {
    return `${this.base}t:${hash}`;
  }
}

/** Field of the user HASH holding the user record. */
export const USER_FIELD = 'u';
export const clientField = (clientId: string): string => `c${esc(clientId)}`;
export const grantField = (gh: string): string => `g${gh}`;

/** Escapes a string for use inside a SCAN MATCH pattern. */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
