/**
 * Decoded records by the strings they are stored as. A grant and its user come back from Redis
 * on every lookup of one of the grant's tokens (code exchange, refresh, every validation), always
 * as the same strings until the record changes; decoding the grant's JSON each time was the
 * largest cost of the store in this process. Records are immutable values (frozen all the way
 * down), so one decoded copy can serve every caller.
 */
import { Memo } from '../crypto/memo.js';
import type { GrantRecord, UserRecord } from '../tree/records.js';
import { decodeGrant, decodeUser } from './codec.js';

/** Records remembered per kind; a stored grant is a few hundred bytes, so this stays small. */
const CAPACITY = 512;
/** Longer strings (grants with large claims or requests) are decoded every time, never kept. */
const MAX_LENGTH = 4096;

const grants = new Memo<GrantRecord>(CAPACITY, MAX_LENGTH);
const users = new Memo<UserRecord>(CAPACITY, MAX_LENGTH);

/** {@link decodeGrant}, remembered. */
export function grantOf(v: string, userId: string): GrantRecord {
  const hit = grants.peek(v);
  // The stored grant doesn't name its user (the key does): a hit must be for the same user.
  if (hit !== undefined && hit.userId === userId) return hit;
  const g = decodeGrant(v, userId);
  grants.set(v, g);
  return g;
}

/** {@link decodeUser}, remembered. */
export function userOf(v: string): UserRecord {
  return users.get(v, () => decodeUser(v));
}
