/**
 * A deliberately naive model of the session tree, shared by the two model-based property tests:
 * plain objects with explicit parent pointers, rotation families and flags, and the activity rule
 * of SPEC §4 written out directly.
 *
 * - test/core/model.property.test.ts runs random operation sequences on a memory store and, after
 *   every step, compares introspect/validateToken and the newest live grant with this model.
 * - test/reliability/model-commands.ts applies fast-check commands to the model and to a real
 *   SessionManager (memory and Redis); {@link reconcile} then compares the two through a dump.
 *
 * Where a store has legitimate freedom the model accepts either outcome and follows what
 * happened: an expired record may already be pruned, and a Redis store drops a user whose every
 * record has expired (its keys expire with their longest-lived member) — `lazyExpiry`.
 */
import type { ReusePolicy, TreeDump } from '../../src/store/store.js';

export const S = 1000;
/** Lifetimes the test manager is configured with (ms). */
export const LIFE = { code: 300 * S, access: 600 * S, refresh: 1800 * S, grant: 3600 * S } as const;

export interface MUser {
  epoch: number;
  readonly clients: Map<string, MClient>;
  /** Browser sessions the store still holds (also expired ones until a write or purge drops them). */
  readonly bs: Map<string, { expiresAt: number; epoch: number }>;
}
export interface MClient {
  revoked: boolean;
}
export interface MGrant {
  readonly userId: string;
  readonly clientId: string;
  readonly id: string;
  readonly sid: string;
  readonly seq: number;
  readonly offline: boolean;
  readonly expiresAt: number;
  readonly bs?: string;
  revoked: boolean;
  removed: boolean;
}
export type TokenClass = 'authorization_code' | 'access_token' | 'refresh_token';
export interface MToken {
  readonly value: string;
  readonly id: string;
  readonly cls: TokenClass;
  readonly grant: MGrant;
  readonly parent?: string;
  readonly family?: string;
  readonly expiresAt: number;
  readonly epoch: number;
  readonly offline: boolean;
  readonly bs?: string;
  revoked: boolean;
  used: boolean;
  usedAt?: number;
}

export interface Policies {
  readonly code: ReusePolicy;
  readonly refresh: ReusePolicy;
  /** Refresh grace window (ms); 0 disables it. */
  readonly graceMs: number;
}

/** `list[i]` counted from the newest entry (operations pick the model's grants and tokens so), or undefined for an empty list. */
export function pick<T>(list: readonly T[], i: number): T | undefined {
  return list.length === 0 ? undefined : list[list.length - 1 - (i % list.length)];
}

export class TreeModel {
  readonly users = new Map<string, MUser>();
  readonly grants: MGrant[] = [];
  readonly tokens: MToken[] = [];
  /** Browser sessions ever started: (user, id). */
  readonly browserSessions: Array<{ userId: string; id: string }> = [];
  #seq = 0;

  constructor(
    readonly userIds: readonly string[],
    readonly clientIds: readonly string[],
    readonly policies: Policies,
    readonly lazyExpiry: boolean,
    readonly clock: { readonly now: number },
  ) {}

  get now(): number {
    return this.clock.now;
  }

  // ---------------------------------------------------------------- the activity rule

  client(g: MGrant): MClient | undefined {
    return this.users.get(g.userId)?.clients.get(g.clientId);
  }
  grantExists(g: MGrant): boolean {
    return !g.removed && this.client(g) !== undefined;
  }
  grantLive(g: MGrant): boolean {
    const c = this.client(g);
    return !g.removed && c !== undefined && !c.revoked && !g.revoked && g.expiresAt > this.now;
  }
  bsLive(u: MUser, id: string): boolean {
    const b = u.bs.get(id);
    return b !== undefined && b.expiresAt > this.now && b.epoch === u.epoch;
  }
  active(t: MToken): boolean {
    const u = this.users.get(t.grant.userId);
    if (!u || !this.grantLive(t.grant) || t.revoked || t.used || t.expiresAt <= this.now) return false;
    if (t.offline) return true;
    return t.epoch >= u.epoch && (t.bs === undefined || this.bsLive(u, t.bs));
  }
  /** An expired token (or the reuse marker of a consumed one) may be pruned; a removed grant's tokens are gone. */
  mayBeGone(t: MToken): boolean {
    return !this.grantExists(t.grant) || t.expiresAt <= this.now || (this.lazyExpiry && this.grantMayBeGone(t.grant));
  }
  /** The store may have pruned the grant: it has expired (pruned lazily), or its user may have vanished. */
  grantMayBeGone(g: MGrant): boolean {
    return g.expiresAt <= this.now || (this.lazyExpiry && this.userMayVanish(g.userId));
  }
  /**
   * A Redis user whose every grant and browser session has expired loses its keys (their TTL is
   * their longest-lived member) at its next write, or when that TTL passes.
   */
  userMayVanish(userId: string): boolean {
    if (!this.lazyExpiry) return false;
    const u = this.users.get(userId);
    if (!u) return true;
    const liveGrant = this.grants.some((g) => g.userId === userId && !g.removed && g.expiresAt > this.now);
    const liveBs = [...u.bs.values()].some((b) => b.expiresAt > this.now);
    const anyRecord = this.grants.some((g) => g.userId === userId && !g.removed) || u.bs.size > 0;
    return !liveGrant && !liveBs && anyRecord;
  }

  // ---------------------------------------------------------------- updates

  ensureUser(userId: string): MUser {
    let u = this.users.get(userId);
    if (!u) this.users.set(userId, (u = { epoch: 0, clients: new Map(), bs: new Map() }));
    return u;
  }
  addGrant(g: Omit<MGrant, 'seq' | 'revoked' | 'removed'>): MGrant {
    const u = this.ensureUser(g.userId);
    const c = u.clients.get(g.clientId);
    if (!c) u.clients.set(g.clientId, { revoked: false });
    else c.revoked = false; // a revoked client session is reset by a new grant (its old grants stay revoked)
    const grant: MGrant = { ...g, seq: this.#seq++, revoked: false, removed: false };
    this.grants.push(grant);
    return grant;
  }
  addToken(t: Omit<MToken, 'revoked' | 'used' | 'epoch'>): MToken {
    const rec: MToken = { ...t, revoked: false, used: false, epoch: this.users.get(t.grant.userId)!.epoch };
    this.tokens.push(rec);
    return rec;
  }
  /** What the store's lineage walk reaches: children by parent id, and whole families through refresh tokens. */
  closure(rootIds: readonly string[], families: readonly string[]): MToken[] {
    const present = (t: MToken) => !t.grant.removed && !t.used;
    const out = new Set<MToken>();
    const seen = new Set<string>();
    const seenFamilies = new Set<string>();
    const queue = [...rootIds];
    const visitFamily = (f: string) => {
      if (seenFamilies.has(f)) return;
      seenFamilies.add(f);
      for (const t of this.tokens) if (t.family === f && present(t)) queue.push(t.id);
    };
    families.forEach(visitFamily);
    while (queue.length > 0) {
      const id = queue.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const t = this.tokens.find((x) => x.id === id);
      if (t && present(t)) {
        out.add(t);
        if (t.cls === 'refresh_token' && t.family) visitFamily(t.family);
      }
      for (const c of this.tokens) if (c.parent === id && present(c)) queue.push(c.id);
    }
    return [...out];
  }
  revokeClosure(rootIds: readonly string[], families: readonly string[]): void {
    for (const t of this.closure(rootIds, families)) t.revoked = true;
  }
  applyReuse(t: MToken, policy: ReusePolicy): void {
    if (policy === 'grant') t.grant.revoked = true;
    else if (policy === 'descendants') this.revokeClosure([t.id], t.cls === 'refresh_token' && t.family ? [t.family] : []);
  }
  removeGrants(pred: (g: MGrant) => boolean): void {
    for (const g of this.grants) if (!g.removed && pred(g)) g.removed = true;
  }
  /** revokeClientSession: the client session is revoked, and so is every grant under it. */
  revokeClient(userId: string, clientId: string): void {
    const c = this.users.get(userId)?.clients.get(clientId);
    if (c) c.revoked = true;
    for (const g of this.grants) if (!g.removed && g.userId === userId && g.clientId === clientId) g.revoked = true;
  }
  /** removeSession of a client session: its grants go, and so does the client session. */
  removeClient(userId: string, clientId: string): void {
    this.removeGrants((g) => g.userId === userId && g.clientId === clientId);
    this.users.get(userId)?.clients.delete(clientId);
  }
  dropUser(userId: string): void {
    this.removeGrants((g) => g.userId === userId);
    this.users.delete(userId);
  }
  logout(userId: string, keepOffline: boolean): void {
    const u = this.users.get(userId)!;
    u.epoch++;
    u.bs.clear();
    if (!keepOffline) {
      for (const c of u.clients.values()) c.revoked = true;
      for (const g of this.grants) if (!g.removed && g.userId === userId) g.revoked = true;
    }
  }
  /** Starts a browser session: the store drops the user's expired ones on the same write. */
  startBrowserSession(userId: string, id: string, expiresAt: number): void {
    const u = this.ensureUser(userId);
    for (const [k, b] of u.bs) if (b.expiresAt <= this.now) u.bs.delete(k);
    u.bs.set(id, { expiresAt, epoch: u.epoch });
    this.browserSessions.push({ userId, id });
  }
  /** A complete purge: expired grants, empty client sessions, expired browser sessions, empty users. */
  purge(): void {
    this.removeGrants((g) => g.expiresAt <= this.now);
    for (const [userId, u] of this.users) {
      for (const clientId of [...u.clients.keys()]) {
        if (!this.grants.some((g) => !g.removed && g.userId === userId && g.clientId === clientId)) u.clients.delete(clientId);
      }
      for (const [k, b] of u.bs) if (b.expiresAt <= this.now) u.bs.delete(k);
      if (u.clients.size === 0 && u.bs.size === 0) this.users.delete(userId);
    }
  }
  newestLiveGrant(userId: string, clientId: string): MGrant | undefined {
    let best: MGrant | undefined;
    for (const g of this.grants) if (g.userId === userId && g.clientId === clientId && this.grantLive(g) && (!best || g.seq > best.seq)) best = g;
    return best;
  }
}

/**
 * Compares the model with a dump of the store, after letting the model follow what lazy expiry
 * legitimately removed. Returns the disagreements (empty when they agree).
 */
export function reconcile(model: TreeModel, d: TreeDump): string[] {
  const out: string[] = [];
  const now = model.now;
  const users = new Map(d.users.map((u) => [u.userId, u]));
  const clients = new Map(d.clients.map((c) => [JSON.stringify([c.userId, c.clientId]), c]));
  const grants = new Map(d.grants.map((g) => [g.id, g]));
  const tokens = new Map(d.tokens.map((t) => [t.id, t]));
  const markers = new Map(d.markers.map((m) => [m.tokenId, m]));

  // Users the store dropped: only when the model allows it, and then the model follows.
  for (const userId of [...model.users.keys()]) {
    if (users.has(userId)) continue;
    if (model.userMayVanish(userId)) model.dropUser(userId);
    else out.push(`user ${userId.slice(0, 16)} missing from the store`);
  }
  for (const u of d.users) {
    const m = model.users.get(u.userId);
    if (!m) {
      out.push(`store has a user the model does not: ${u.userId.slice(0, 16)}`);
      continue;
    }
    if (u.epoch !== m.epoch) out.push(`user ${u.userId.slice(0, 16)} epoch ${u.epoch}, model ${m.epoch}`);
    const stored = Object.keys(u.browserSessions).sort();
    const modeled = [...m.bs.keys()].sort();
    if (JSON.stringify(stored) !== JSON.stringify(modeled)) out.push(`user ${u.userId.slice(0, 16)} browser sessions ${stored.length}, model ${modeled.length}`);
    for (const [id, b] of m.bs) {
      const s = Object.hasOwn(u.browserSessions, id) ? u.browserSessions[id] : undefined;
      if (s && (s.expiresAt !== b.expiresAt || s.epoch !== b.epoch)) out.push(`browser session ${id} differs`);
    }
    for (const [clientId, c] of m.clients) {
      const s = clients.get(JSON.stringify([u.userId, clientId]));
      if (!s) out.push(`client session ${clientId.slice(0, 16)} missing from the store`);
      else if (s.revoked !== c.revoked) out.push(`client session ${clientId.slice(0, 16)} revoked=${s.revoked}, model ${c.revoked}`);
    }
  }
  for (const c of d.clients) {
    if (!model.users.get(c.userId)?.clients.has(c.clientId)) out.push(`store has a client session the model does not: ${c.clientId.slice(0, 16)}`);
  }

  // Grants: present unless removed (or legitimately pruned after expiry).
  for (const g of model.grants) {
    if (!model.grantExists(g)) continue;
    const s = grants.get(g.id);
    if (!s) {
      if (model.lazyExpiry && g.expiresAt <= now) g.removed = true;
      else out.push(`grant ${g.id} missing from the store`);
      continue;
    }
    if (s.revoked !== g.revoked) out.push(`grant ${g.id} revoked=${s.revoked}, model ${g.revoked}`);
    if (s.expiresAt !== g.expiresAt) out.push(`grant ${g.id} expiresAt differs`);
  }
  const modelGrants = new Map(model.grants.map((g) => [g.id, g]));
  for (const g of d.grants) {
    const m = modelGrants.get(g.id);
    if (!m || !model.grantExists(m)) out.push(`store has a grant the model does not (or removed): ${g.id}`);
  }

  // Tokens: every stored record is one the model minted, in the same state; every live one is stored.
  const modelTokens = new Map(model.tokens.map((t) => [t.id, t]));
  for (const t of d.tokens) {
    const m = modelTokens.get(t.id);
    if (!m) out.push(`store has a token the model never minted: ${t.id}`);
    else if (m.used) out.push(`${t.class} ${t.id} was used up but is still a live record`);
    else if (!model.grantExists(m.grant)) out.push(`${t.class} ${t.id} outlived the removal of its grant`);
    else if (t.revoked !== m.revoked) out.push(`${t.class} ${t.id} revoked=${t.revoked}, model ${m.revoked}`);
  }
  for (const mk of d.markers) {
    const m = modelTokens.get(mk.tokenId);
    if (!m) out.push(`store has a reuse marker the model never minted: ${mk.tokenId}`);
    else if (!m.used) out.push(`${mk.class} ${mk.tokenId} is a reuse marker but was never used up`);
    else if (!model.grantExists(m.grant)) out.push(`${mk.class} ${mk.tokenId} marker outlived the removal of its grant`);
  }
  for (const t of model.tokens) {
    if (t.expiresAt <= now || !model.grantExists(t.grant)) continue; // may be pruned
    if (model.lazyExpiry && model.grantMayBeGone(t.grant)) continue;
    if (t.used ? !markers.has(t.id) : !tokens.has(t.id)) out.push(`${t.cls} ${t.id} (${t.used ? 'marker' : 'record'}) missing from the store`);
  }
  return out;
}
