/**
 * The records held by one grant in the memory store: its live tokens and the reuse markers
 * of its used-up single-use tokens, each found by its hash.
 *
 * Most grants hold a handful of records (a used code, an access token, a refresh token), and
 * a `Map` costs about 190 bytes even when nearly empty — with a map per token class plus one
 * for markers, that was a third of the memory of a login. So a small set is one exact-size
 * array in issue order, replaced (never edited) on every write; past {@link SMALL_MAX}
 * records it becomes one `Map` per token class, in issue order, keeping every operation O(1)
 * however many tokens a grant holds.
 *
 * A marker takes the place of its token (same class, same hash, same expiry), so within a
 * class the front still expires first and pruning from the front stays correct (fault 18);
 * a small set, pruned whole on each write, keeps its markers last (see retireRecord).
 */
import type { ReuseMarker, TokenRecord } from '../tree/records.js';

export type GrantRecordEntry = TokenRecord | ReuseMarker;

/** Per class: records by hash, in issue order. */
type ClassIndex = Map<string, Map<string, GrantRecordEntry>>;

/** An exact-size array (treat as immutable) or, once large, a class index (mutable). */
export type RecordSet = readonly GrantRecordEntry[] | ClassIndex;

/** Largest set kept as an array: a linear scan of this many is cheaper than a hash lookup's upkeep. */
export const SMALL_MAX = 16;
/** How many expired records one write may prune from the front of one class. */
export const PRUNE_PER_WRITE = 4;

export const EMPTY_RECORDS: RecordSet = Object.freeze([]) as readonly GrantRecordEntry[];

export function isMarker(r: GrantRecordEntry): r is ReuseMarker {
  return 'tokenId' in r;
}

function isSmall(s: RecordSet): s is readonly GrantRecordEntry[] {
  return Array.isArray(s);
}

/** The record with this hash, or undefined. */
export function getRecord(s: RecordSet, hash: string): GrantRecordEntry | undefined {
  if (isSmall(s)) {
    for (const r of s) if (r.hash === hash) return r;
    return undefined;
  }
  for (const m of s.values()) {
    const r = m.get(hash);
    if (r !== undefined) return r;
  }
  return undefined;
}

/** Every record: issue order for a small set, class by class (each in issue order) for a large one. */
export function* allRecords(s: RecordSet): Generator<GrantRecordEntry> {
  if (isSmall(s)) yield* s;
  else for (const m of s.values()) yield* m.values();
}

export function countRecords(s: RecordSet): { tokens: number; markers: number } {
  let markers = 0;
  let total = 0;
  for (const r of allRecords(s)) {
    total++;
    if (isMarker(r)) markers++;
  }
  return { tokens: total - markers, markers };
}

/**
 * Removes expired records (`expiresAt <= now`), calling `onRemove` for each: the whole of a
 * small set, at most {@link PRUNE_PER_WRITE} from the front of each class of a large one.
 */
export function pruneRecords(s: RecordSet, now: number, onRemove: (r: GrantRecordEntry) => void): RecordSet {
  if (isSmall(s)) {
    let expired = false;
    for (const r of s) expired ||= r.expiresAt <= now;
    if (!expired) return s;
    const kept: GrantRecordEntry[] = [];
    for (const r of s) {
      if (r.expiresAt <= now) onRemove(r);
      else kept.push(r);
    }
    return kept.slice(); // exact size: `kept` grew by push
  }
  for (const m of s.values()) {
    let n = 0;
    for (const [h, r] of m) {
      if (n++ >= PRUNE_PER_WRITE || r.expiresAt > now) break;
      m.delete(h);
      onRemove(r);
    }
  }
  return s;
}

/** Adds a record with a new hash at the end of the issue order. */
export function addRecord(s: RecordSet, r: GrantRecordEntry): RecordSet {
  if (isSmall(s)) {
    // concat, not spread: it allocates exactly the new length (a spread leaves room for 16 more).
    if (s.length < SMALL_MAX) return s.concat([r]);
    const index: ClassIndex = new Map();
    for (const old of s) classMap(index, old.class).set(old.hash, old);
    s = index;
  }
  classMap(s, r.class).set(r.hash, r);
  return s;
}

/** Puts `r` in the place of the record with the same hash (its position in the order is kept). */
export function replaceRecord(s: RecordSet, r: GrantRecordEntry): RecordSet {
  if (isSmall(s)) return s.map((old) => (old.hash === r.hash ? r : old));
  classMap(s, r.class).set(r.hash, r);
  return s;
}

/**
 * Puts the marker `m` in the place of the used-up token with its hash. In a small set markers go
 * after the live tokens (the tokens keep their issue order): a lookup scans the set from the
 * front, and validations, the commonest lookups, then reach a live token without stepping over
 * markers, each a cache miss or two on a large store. A large set keeps the marker in the
 * token's place in its class, where pruning expects it (same expiry).
 */
export function retireRecord(s: RecordSet, m: ReuseMarker): RecordSet {
  if (!isSmall(s)) return replaceRecord(s, m);
  const out: GrantRecordEntry[] = [];
  for (const r of s) if (r.hash !== m.hash) out.push(r);
  out.push(m);
  return out.slice(); // exact size: `out` grew by push
}

/** Removes the record `r` (found earlier in this set). */
export function removeRecord(s: RecordSet, r: GrantRecordEntry): RecordSet {
  if (isSmall(s)) return s.filter((old) => old.hash !== r.hash).slice(); // slice: exact size
  s.get(r.class)?.delete(r.hash);
  return s;
}

function classMap(index: ClassIndex, cls: string): Map<string, GrantRecordEntry> {
  let m = index.get(cls);
  if (!m) index.set(cls, (m = new Map()));
  return m;
}
