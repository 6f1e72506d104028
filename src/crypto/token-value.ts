/**
 * Opaque token values (SPEC §3.3): 256 bits from the CSPRNG, base64url, prefixed with the
 * owner's route so a sharded store can find the record from the value alone. Stores keep
 * only `hashTokenValue(value)`.
 *
 * The route depends on the user alone, so in clear it would be 18 bits shared by all of a
 * user's tokens at every client, letting colluding clients link a user despite pairwise
 * subjects (OIDC Core §8). So the prefix is the route masked with a keyed hash of the value's
 * own random part: the server, which has the key, recovers the route from the value; anyone
 * else sees a prefix as random as the rest.
 */
import { createHmac, hash, randomFillSync } from 'node:crypto';

/** Characters of a route: 3 base64url characters (18 bits) spread users over shards without identifying them. */
export const ROUTE_LENGTH = 3;
const RANDOM_BYTES = 32;

// Randomness is drawn in blocks: one CSPRNG call feeds many tokens (a hot path at 30k flows/s).
const POOL_SIZE = RANDOM_BYTES * 128;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** Reserves `n` fresh bytes of the pool (refilled from the CSPRNG when short); returns their offset. */
function take(n: number): number {
  if (poolOffset + n > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const off = poolOffset;
  poolOffset += n;
  return off;
}

/** `n` bytes from the CSPRNG (n ≤ 4096). Each byte is handed out once. */
export function randomBytesPooled(n: number): Buffer {
  const off = take(n);
  const out = Buffer.from(pool.subarray(off, off + n));
  pool.fill(0, off, off + n);
  return out;
}

/** `n` bytes from the CSPRNG as base64url, read straight from the pool (no Buffer per call). */
function randomBase64urlPooled(n: number): string {
  const off = take(n);
  const out = pool.toString('base64url', off, off + n);
  pool.fill(0, off, off + n);
  return out;
}

/** A random 128-bit id (grants, tokens, browser sessions). */
export function randomId(): string {
  return randomBase64urlPooled(16);
}

/** A new value of a token of the user with this route; `maskKey` as in {@link routeOfValue}. */
export function newTokenValue(route: string, maskKey: string): string {
  const random = randomBase64urlPooled(RANDOM_BYTES);
  return xorRoute(route, routeMask(maskKey, random)) + random;
}

/**
 * The route a token value claims ('' when its prefix is not base64url); validated later by the
 * record it resolves to. `maskKey` is a secret (base64url) string.
 */
export function routeOfValue(value: string, maskKey: string): string {
  return xorRoute(value, routeMask(maskKey, value.slice(ROUTE_LENGTH)));
}

/**
 * 18 pseudorandom bits (3 base64url characters) keyed by `maskKey`, of a value's random part.
 * A one-shot hash of key ‖ data: the data has a fixed length, which makes this secret-prefix
 * construction a PRF, and it costs a fraction of an HMAC on this hot path (every lookup).
 */
function routeMask(maskKey: string, random: string): string {
  return hash('sha256', maskKey + random, 'base64url');
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The 6-bit value of each base64url character by char code, -1 for any other ASCII character. */
const SEXTET = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) SEXTET[BASE64URL.charCodeAt(i)] = i;

/** The first ROUTE_LENGTH characters of `a` XOR those of `mask`, as 6-bit values; '' if `a` has others. */
function xorRoute(a: string, mask: string): string {
  let out = '';
  for (let i = 0; i < ROUTE_LENGTH; i++) {
    const c = a.charCodeAt(i);
    const x = c < 128 ? SEXTET[c]! : -1;
    if (x < 0) return '';
    out += BASE64URL[x ^ SEXTET[mask.charCodeAt(i)]!];
  }
  return out;
}

/** SHA-256 of a token value, base64url. 256-bit random values make a plain hash sufficient. */
export function hashTokenValue(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** The route of a user id: HMAC so that routes reveal nothing about ids. */
export function routeOf(routeKey: Uint8Array, userId: string): string {
  return createHmac('sha256', routeKey).update(userId).digest('base64url').slice(0, ROUTE_LENGTH);
}
