/**
 * Opaque token values (SPEC §3.3): 256 bits from the CSPRNG, base64url, prefixed with the
 * owner's route so a sharded store can find the record from the value alone. Stores keep
 * only `hashTokenValue(value)`.
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

export function newTokenValue(route: string): string {
  return route + randomBase64urlPooled(RANDOM_BYTES);
}

/** The route a token value claims; validated later by the record it resolves to. */
export function routeOfValue(value: string): string {
  return value.slice(0, ROUTE_LENGTH);
}

/** SHA-256 of a token value, base64url. 256-bit random values make a plain hash sufficient. */
export function hashTokenValue(value: string): string {
  return hash('sha256', value, 'base64url');
}

/** The route of a user id: HMAC so that routes reveal nothing about ids. */
export function routeOf(routeKey: Uint8Array, userId: string): string {
  return createHmac('sha256', routeKey).update(userId).digest('base64url').slice(0, ROUTE_LENGTH);
}
