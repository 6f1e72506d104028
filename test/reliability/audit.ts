/**
 * The audit: walks a whole session tree and reports what must never be there.
 *
 * Three views, each catching what the others can't:
 * - {@link auditDump} checks the records of a `dump()` (any store): no orphan, no duplicate, no
 *   active token under an inactive ancestor, no used-up record kept alive, no second live refresh
 *   token in a rotation family, no token outliving its grant.
 * - {@link auditRedisKeys} reads the raw Redis keyspace under a prefix (a dump only shows what
 *   the scripts can reach from a user, so it hides orphans): every index member resolves to a
 *   record while it is live, every live record is indexed and has its parents, every key has a TTL.
 * - {@link auditMemoryIndex} checks the memory store's hash index against its records.
 *
 * {@link atRestFindings} looks for token values and secrets in stored text (SPEC §3.3).
 * Reports never contain token values: records are named by id and a short hash prefix.
 */
import { decodeGrant, decodeUser } from '../../src/redis/codec.js';
import { globEscape, userHash } from '../../src/redis/keys.js';
import { hashTokenValue } from '../../src/crypto/token-value.js';
import { jwtReferenceHash, looksLikeJwt } from '../../src/manager/jwt-tokens.js';
import type { MemoryStore } from '../../src/store/memory-store.js';
import type { TreeDump } from '../../src/store/store.js';
import { tokenInactiveReason } from '../../src/tree/activity.js';
import type { ClientRecord, GrantRecord, ReuseMarker, TokenRecord, UserRecord } from '../../src/tree/records.js';

/** One thing that must not be. `kind` is stable (tests compare it); `detail` names records by id. */
export interface Violation {
  readonly kind: string;
  readonly detail: string;
}

export interface DumpCounts {
  users: number;
  clients: number;
  grants: number;
  tokens: number;
  markers: number;
  /** Tokens active by the activity rule (SPEC §4) at the audit's `now`. */
  activeTokens: number;
  /** Records past their expiry that a purge or TTL has not removed yet (allowed: removal is lazy). */
  expiredLeftovers: number;
  /** Tokens whose parent left no record at all, not even a reuse marker (expired and pruned). */
  parentsGone: number;
}

export interface DumpAudit {
  readonly counts: DumpCounts;
  readonly violations: Violation[];
}

export interface DumpAuditOptions {
  /**
   * Flows where codes are only ever redeemed (an OP's token endpoint, never `mintToken` with a
   * code as `basedOn`): at most one access token may descend directly from a code.
   */
  readonly singleRedemption?: boolean;
  /**
   * Flows where refresh tokens come only from code redemption and rotation (never `mintToken` of
   * a refresh token from a refresh token): a rotation family has at most one live refresh token.
   */
  readonly singleRefreshPerFamily?: boolean;
}

const short = (s: string): string => (s.length > 24 ? `${s.slice(0, 20)}…(${s.length})` : s);
const key3 = (u: string, c: string, g: string): string => JSON.stringify([u, c, g]);
const key2 = (u: string, c: string): string => JSON.stringify([u, c]);

/** Checks the records of a dump at time `now` (ms, in the records' clock). */
export function auditDump(d: TreeDump, now: number, options: DumpAuditOptions = {}): DumpAudit {
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ kind, detail });
  const counts: DumpCounts = {
    users: d.users.length,
    clients: d.clients.length,
    grants: d.grants.length,
    tokens: d.tokens.length,
    markers: d.markers.length,
    activeTokens: 0,
    expiredLeftovers: 0,
    parentsGone: 0,
  };

  const users = new Map<string, UserRecord>();
  for (const u of d.users) {
    if (users.has(u.userId)) v('duplicate-user', short(u.userId));
    users.set(u.userId, u);
    for (const [id, bs] of Object.entries(u.browserSessions)) if (bs.id !== id) v('browser-session-key-mismatch', short(u.userId));
  }
  const clients = new Map<string, ClientRecord>();
  for (const c of d.clients) {
    const k = key2(c.userId, c.clientId);
    if (clients.has(k)) v('duplicate-client', k);
    clients.set(k, c);
    if (!users.has(c.userId)) v('orphan-client', `client ${short(c.clientId)} of missing user ${short(c.userId)}`);
  }
  const grants = new Map<string, GrantRecord>();
  for (const g of d.grants) {
    const k = key3(g.userId, g.clientId, g.id);
    if (grants.has(k)) v('duplicate-grant', g.id);
    grants.set(k, g);
    if (!clients.has(key2(g.userId, g.clientId))) v('orphan-grant', `grant ${g.id} of missing client session`);
    if (g.expiresAt <= now) counts.expiredLeftovers++;
  }

  // Tokens and markers by grant, by id; hashes are unique across both.
  const hashes = new Set<string>();
  const tokenById = new Map<string, TokenRecord>();
  const markerByTokenId = new Map<string, ReuseMarker>();
  const tokensOfGrant = new Map<string, TokenRecord[]>();
  const grantOf = (r: { userId: string; clientId: string; grantId: string }) => grants.get(key3(r.userId, r.clientId, r.grantId));
  for (const t of d.tokens) {
    if (hashes.has(t.hash)) v('duplicate-hash', t.hash.slice(0, 8));
    hashes.add(t.hash);
    if (tokenById.has(t.id)) v('duplicate-token-id', t.id);
    tokenById.set(t.id, t);
    const g = grantOf(t);
    if (!g) v('orphan-token', `${t.class} ${t.id} of missing grant ${t.grantId}`);
    else {
      const k = key3(t.userId, t.clientId, t.grantId);
      const list = tokensOfGrant.get(k);
      if (list) list.push(t);
      else tokensOfGrant.set(k, [t]);
      if (t.expiresAt > g.expiresAt) v('token-outlives-grant', `${t.class} ${t.id}`);
    }
    if (t.expiresAt <= now) counts.expiredLeftovers++;
    if (t.usageRules.maxUsage !== undefined && t.used >= t.usageRules.maxUsage) {
      // A consume that uses a token up turns it into a reuse marker in the same step.
      v('used-up-token-kept', `${t.class} ${t.id} used ${t.used}/${t.usageRules.maxUsage}`);
    }
  }
  for (const m of d.markers) {
    if (hashes.has(m.hash)) v('duplicate-hash', m.hash.slice(0, 8));
    hashes.add(m.hash);
    if (markerByTokenId.has(m.tokenId)) v('duplicate-marker', m.tokenId);
    markerByTokenId.set(m.tokenId, m);
    if (!grantOf(m)) v('orphan-marker', `${m.class} ${m.tokenId} of missing grant ${m.grantId}`);
    if (tokenById.has(m.tokenId)) v('marker-and-record', `${m.class} ${m.tokenId} is both a live record and a reuse marker`);
    if (m.expiresAt <= now) counts.expiredLeftovers++;
  }

  // Revoked refresh tokens, by family: every member of such a family must be inactive.
  const revokedFamilies = new Set<string>();
  for (const t of d.tokens) if (t.revoked && t.class === 'refresh_token' && t.familyId !== undefined) revokedFamilies.add(t.familyId);

  const liveRefreshByFamily = new Map<string, number>();
  const accessFromCode = new Map<string, number>();
  for (const t of d.tokens) {
    const g = grantOf(t);
    const user = users.get(t.userId);
    const client = clients.get(key2(t.userId, t.clientId));
    if (t.basedOn !== undefined && !tokenById.has(t.basedOn) && !markerByTokenId.has(t.basedOn)) counts.parentsGone++;
    if (options.singleRedemption && t.class === 'access_token' && t.basedOn !== undefined) {
      const parent = tokenById.get(t.basedOn);
      const marker = markerByTokenId.get(t.basedOn);
      if (parent?.class === 'authorization_code' || marker?.class === 'authorization_code') {
        const n = (accessFromCode.get(t.basedOn) ?? 0) + 1;
        accessFromCode.set(t.basedOn, n);
        if (n === 2) v('code-redeemed-twice', `code ${t.basedOn}`);
      }
    }
    if (!g || !user || !client) continue;
    if (tokenInactiveReason({ user, client, grant: g, token: t }, now) !== undefined) continue;
    counts.activeTokens++;
    // Ancestors: the basedOn chain, within the grant. A revoked ancestor must have taken this token with it.
    const seen = new Set<string>([t.id]);
    for (let p = t.basedOn; p !== undefined; ) {
      if (seen.has(p)) {
        v('lineage-cycle', `${t.class} ${t.id}`);
        break;
      }
      seen.add(p);
      const parent = tokenById.get(p);
      if (!parent) {
        const m = markerByTokenId.get(p);
        if (m && (m.grantId !== t.grantId || m.userId !== t.userId || m.clientId !== t.clientId)) v('lineage-crosses-grant', `${t.class} ${t.id}`);
        break; // consumed (marker) or gone: a used or expired parent does not make its children inactive
      }
      if (parent.grantId !== t.grantId || parent.userId !== t.userId || parent.clientId !== t.clientId) {
        v('lineage-crosses-grant', `${t.class} ${t.id} → ${parent.id}`);
        break;
      }
      if (parent.revoked) {
        v('active-under-revoked-ancestor', `${t.class} ${t.id} under revoked ${parent.class} ${parent.id}`);
        break;
      }
      p = parent.basedOn;
    }
    if (t.familyId !== undefined && revokedFamilies.has(t.familyId)) {
      v('active-in-revoked-family', `${t.class} ${t.id} in family ${t.familyId}`);
    }
    if (options.singleRefreshPerFamily && t.class === 'refresh_token' && t.familyId !== undefined && t.usageRules.maxUsage !== undefined) {
      const n = (liveRefreshByFamily.get(t.familyId) ?? 0) + 1;
      liveRefreshByFamily.set(t.familyId, n);
      // Rotation: a family has one current refresh token; two live ones mean a refresh was spent twice.
      if (n === 2) v('two-live-refresh-tokens', `family ${t.familyId}`);
    }
  }
  return { counts, violations };
}

/** The memory store's hash index holds exactly its records (no dead entry, no unindexed record). */
export async function auditMemoryIndex(store: MemoryStore, d: TreeDump): Promise<Violation[]> {
  const out: Violation[] = [];
  const s = store.stats();
  if (s.hashes !== s.tokens + s.markers) out.push({ kind: 'index-size', detail: `${s.hashes} hash entries for ${s.tokens} tokens + ${s.markers} markers` });
  const dc = { users: d.users.length, clients: d.clients.length, grants: d.grants.length, tokens: d.tokens.length, markers: d.markers.length };
  for (const k of Object.keys(dc) as (keyof typeof dc)[]) {
    if (s[k] !== dc[k]) out.push({ kind: 'stats-dump-mismatch', detail: `${k}: stats ${s[k]}, dump ${dc[k]}` });
  }
  // Every record is found through the index, as itself.
  for (const t of d.tokens) {
    const f = await store.findToken('', t.hash);
    if (f?.token?.id !== t.id) out.push({ kind: 'unindexed-token', detail: `${t.class} ${t.id}` });
  }
  for (const m of d.markers) {
    const f = await store.findToken('', m.hash);
    if (f?.marker?.tokenId !== m.tokenId) out.push({ kind: 'unindexed-marker', detail: `${m.class} ${m.tokenId}` });
  }
  return out;
}

/** What {@link auditRedisKeys} needs from a node-redis client (single server). */
export interface RedisReader {
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
  type(key: string): Promise<string>;
  hGetAll(key: string): Promise<Record<string, string>>;
  zRangeWithScores(key: string, start: number, stop: number): Promise<Array<{ value: string; score: number }>>;
  get(key: string): Promise<string | null>;
  pTTL(key: string): Promise<number>;
}

export interface RedisKeyCounts {
  keys: number;
  userKeys: number;
  indexKeys: number;
  tokenKeys: number;
  indexMembers: number;
  /** Index members past their expiry, left for the next write or purge to prune (allowed). */
  deadIndexMembers: number;
  /** Token keys past their record expiry, waiting for their TTL (allowed). */
  expiredTokenKeys: number;
}

const GRANT_HASH_LENGTH = 11;

/**
 * Reads every key under `prefix` (the tree's layout, see `src/redis/redis-store.ts`) and checks
 * the indexes both ways at time `now` (records' clock):
 * - a live index member (score > now) resolves: `g<gh>` to a grant field of its user, `t<gh><th>`
 *   to a token key of that user and grant whose expiry is the member's score, `b` to a browser
 *   session of the user that expires then;
 * - a live token key is indexed, and its grant (and so its user) exists;
 * - every grant is indexed at its expiry and has its client session;
 * - every key has a TTL; nothing else lives under the prefix.
 */
export async function auditRedisKeys(client: RedisReader, prefix: string, now: number): Promise<{ counts: RedisKeyCounts; violations: Violation[] }> {
  const violations: Violation[] = [];
  const v = (kind: string, detail: string) => violations.push({ kind, detail });
  const counts: RedisKeyCounts = { keys: 0, userKeys: 0, indexKeys: 0, tokenKeys: 0, indexMembers: 0, deadIndexMembers: 0, expiredTokenKeys: 0 };
  const keys: string[] = [];
  for await (const page of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 1000 })) keys.push(...page);
  counts.keys = keys.length;

  const users = new Map<string, Record<string, string>>(); // `{route}uh` → hash
  const indexes = new Map<string, Map<string, number>>(); // `{route}uh` → member → score
  const tokens = new Map<string, string>(); // `{route}th` → value
  const re = /^(\{[A-Za-z0-9_-]{1,16}\})(u|x|t):([A-Za-z0-9_-]+)$/;
  await Promise.all(
    keys.map(async (key) => {
      const m = re.exec(key.slice(prefix.length));
      if (!m) return v('unknown-key', short(key.slice(prefix.length)));
      const [, tag, kind, name] = m as unknown as [string, string, string, string];
      const ttl = await client.pTTL(key);
      if (ttl === -1) v('key-without-ttl', `${kind}:${short(name)}`);
      if (kind === 'u') {
        const h = await client.hGetAll(key);
        if (Object.keys(h).length > 0) users.set(tag + name, h);
      } else if (kind === 'x') {
        const z = await client.zRangeWithScores(key, 0, -1);
        indexes.set(tag + name, new Map(z.map((e) => [e.value, e.score])));
      } else {
        const s = await client.get(key);
        if (s !== null) tokens.set(tag + name, s);
      }
    }),
  );
  counts.userKeys = users.size;
  counts.indexKeys = indexes.size;
  counts.tokenKeys = tokens.size;

  // Users: a user record whose name is its hash; grants with their client session, indexed.
  for (const [name, h] of users) {
    const tag = name.slice(0, name.indexOf('}') + 1);
    const uh = name.slice(tag.length);
    if (h.u === undefined) {
      v('user-hash-without-user', uh);
      continue;
    }
    const user = decodeUser(h.u);
    if (userHash(user.userId) !== uh) v('user-under-wrong-name', uh);
    const index = indexes.get(name);
    for (const [field, value] of Object.entries(h)) {
      if (field === 'u' || field === 'n' || field.startsWith('c')) continue;
      if (!field.startsWith('g')) {
        v('unknown-user-field', `${uh} ${short(field)}`);
        continue;
      }
      const g = decodeGrant(value, user.userId);
      if (g.expiresAt <= now) continue; // expired: the next write or purge prunes it
      if (!Object.hasOwn(h, `c${escId(g.clientId)}`)) v('grant-without-client', `grant ${g.id}`);
      const score = index?.get(field);
      if (score === undefined) v('grant-not-indexed', `grant ${g.id}`);
      else if (score !== g.expiresAt) v('grant-index-score', `grant ${g.id}: ${score} ≠ ${g.expiresAt}`);
    }
  }

  // Index members: each live one resolves.
  for (const [name, members] of indexes) {
    const tag = name.slice(0, name.indexOf('}') + 1);
    const uh = name.slice(tag.length);
    const user = users.get(name);
    let live = 0;
    for (const [member, score] of members) {
      counts.indexMembers++;
      if (score <= now) {
        counts.deadIndexMembers++;
        continue;
      }
      live++;
      if (member.startsWith('g')) {
        if (!user || !Object.hasOwn(user, member)) v('index-member-without-grant', `${uh} ${member}`);
      } else if (member.startsWith('t')) {
        const gh = member.slice(1, 1 + GRANT_HASH_LENGTH);
        const th = member.slice(1 + GRANT_HASH_LENGTH);
        const tv = tokens.get(tag + th);
        if (tv === undefined) {
          v('index-member-without-token', `${uh} t…${th.slice(0, 8)}`);
          continue;
        }
        const h = tokenHeader(tv);
        if (h.uh !== uh || h.gh !== gh) v('index-member-names-other-token', `${uh} t…${th.slice(0, 8)}`);
        if (h.expiresAt !== score) v('token-index-score', `t…${th.slice(0, 8)}: ${score} ≠ ${h.expiresAt}`);
      } else if (member === 'b') {
        // The user's longest-lived browser session (it keeps the user's keys alive).
        const sessions = user?.u === undefined ? [] : Object.values(decodeUser(user.u).browserSessions);
        if (!sessions.some((b) => b.expiresAt === score)) v('index-member-without-browser-session', uh);
      } else v('unknown-index-member', `${uh} ${short(member)}`);
    }
    if (live > 0 && !user) v('index-without-user', uh);
  }

  // Token keys: each live one is indexed under a live grant of its user.
  for (const [name, value] of tokens) {
    const tag = name.slice(0, name.indexOf('}') + 1);
    const th = name.slice(tag.length);
    const h = tokenHeader(value);
    if (h.expiresAt <= now) {
      counts.expiredTokenKeys++;
      continue; // waiting for its TTL; unreachable once its grant or index member is pruned
    }
    const user = users.get(tag + h.uh);
    if (!user || !Object.hasOwn(user, `g${h.gh}`)) {
      v('orphan-token-key', `t…${th.slice(0, 8)} (${h.kind})`);
      continue;
    }
    if (!indexes.get(tag + h.uh)?.has(`t${h.gh}${th}`)) v('token-not-indexed', `t…${th.slice(0, 8)} (${h.kind})`);
  }
  return { counts, violations };
}

/** Escaping of ids inside field names (keys.ts `esc`): tab, newline and `%`. */
function escId(s: string): string {
  return s.replace(/[%\t\n]/g, (c) => (c === '%' ? '%25' : c === '\t' ? '%09' : '%0A'));
}

/** The header fields the audit needs from a stored token or reuse marker (codec.ts layouts). */
function tokenHeader(v: string): { kind: 'token' | 'marker'; uh: string; gh: string; expiresAt: number } {
  const line = v.split('\n', 1)[0]!.split('\t');
  if (v.startsWith('M')) return { kind: 'marker', uh: line[1]!, gh: line[2]!, expiresAt: Number(line[7]) };
  return { kind: 'token', uh: line[1]!, gh: line[2]!, expiresAt: Number(line[10]) };
}

// ------------------------------------------------------------------ at rest

/** The spellings a secret or a value could be stored under. */
export function spellings(value: string | Uint8Array): string[] {
  const b = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value);
  const out = [b.toString('base64'), b.toString('base64url'), b.toString('hex')];
  if (typeof value === 'string') out.unshift(value);
  return [...new Set(out.filter((s) => s.length >= 16))];
}

/**
 * What the store keeps for a token value: the SHA-256 of an opaque value, or of the `jti`
 * reference of a JWT (`jwt-tokens.ts`). `undefined` for a JWT without a string `jti`.
 */
export function storedHashOf(value: string): string | undefined {
  if (!looksLikeJwt(value)) return hashTokenValue(value);
  const jti = jtiOf(value);
  return jti === undefined ? undefined : jwtReferenceHash(jti);
}

/** The `jti` of a JWT (payload decoded without verification: the audit reads its own tokens). */
export function jtiOf(jwt: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { jti?: unknown };
    return typeof payload.jti === 'string' ? payload.jti : undefined;
  } catch {
    return undefined;
  }
}

/** Every key name and every value under `prefix`, whatever its type (for at-rest scans). */
export async function redisTexts(
  client: RedisReader & { sMembers?(key: string): Promise<string[]>; lRange?(key: string, a: number, b: number): Promise<string[]> },
  prefix = '',
): Promise<string[]> {
  const out: string[] = [];
  for await (const page of client.scanIterator({ MATCH: `${globEscape(prefix)}*`, COUNT: 1000 })) {
    for (const key of page) {
      out.push(key);
      const type = await client.type(key);
      if (type === 'string') out.push((await client.get(key)) ?? '');
      else if (type === 'hash') out.push(...Object.entries(await client.hGetAll(key)).flat());
      else if (type === 'zset') out.push(...(await client.zRangeWithScores(key, 0, -1)).map((e) => e.value));
      else if (type === 'set' && client.sMembers) out.push(...(await client.sMembers(key)));
      else if (type === 'list' && client.lRange) out.push(...(await client.lRange(key, 0, -1)));
      else if (type !== 'none') out.push(`<unreadable ${type}>`);
    }
  }
  return out;
}

/**
 * Which needles occur in the texts. `needles` maps each spelling to what it is ("token value",
 * "subject salt", …); a finding names the kind and how many distinct needles matched, never the
 * needle. Scales to many needles: the texts are cut into runs of base64/hex characters and every
 * window of each needle length is looked up in a set (needles with other characters are searched
 * for directly).
 */
export function atRestFindings(texts: readonly string[], needles: ReadonlyMap<string, string>): Violation[] {
  const hits = new Map<string, Set<string>>();
  const hit = (needle: string) => {
    const what = needles.get(needle)!;
    let s = hits.get(what);
    if (!s) hits.set(what, (s = new Set()));
    s.add(needle);
  };
  const WORD = /^[A-Za-z0-9+/=_-]+$/;
  const byLength = new Map<number, Set<string>>();
  const other: string[] = [];
  for (const n of needles.keys()) {
    if (!WORD.test(n)) other.push(n);
    else {
      let set = byLength.get(n.length);
      if (!set) byLength.set(n.length, (set = new Set()));
      set.add(n);
    }
  }
  for (const text of texts) {
    for (const n of other) if (text.includes(n)) hit(n);
    for (const m of text.matchAll(/[A-Za-z0-9+/=_-]+/g)) {
      const w = m[0];
      for (const [len, set] of byLength) {
        for (let i = 0; i + len <= w.length; i++) {
          const sub = w.slice(i, i + len);
          if (set.has(sub)) hit(sub);
        }
      }
    }
  }
  return [...hits].map(([what, s]) => ({ kind: 'at-rest', detail: `${s.size} ${what} spelling(s) found` }));
}
