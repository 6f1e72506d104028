/**
 * fast-check commands for the model-based test: each applies one SessionManager operation to the
 * real manager and to the {@link TreeModel}, asserts the outcome the model predicts (a typed
 * error of the right class, or success), then checks every invariant (`verify`).
 *
 * Commands carry only indexes (into the model's lists, counted from the newest entry) and flags,
 * so fast-check can replay and shrink them.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { OidcSessionsError, TokenReused } from '../../src/errors.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import type { SessionManagerOptions } from '../../src/manager/options.js';
import type { MemoryStore } from '../../src/store/memory-store.js';
import type { SessionStore, TreeDump } from '../../src/store/store.js';
import { tokenInactiveReason } from '../../src/tree/activity.js';
import { authRequest, canonicalDump, makeManager, purgeAll, type TestClock } from '../conformance/harness.js';
import { auditDump, auditMemoryIndex, auditRedisKeys, type RedisReader } from './audit.js';
import { LIFE, S, pick, reconcile, type MGrant, type MToken, type TokenClass, type TreeModel } from '../helpers/tree-model.js';

/** The system under test: a manager on a store, which dump/load may replace. */
export interface Real {
  readonly kind: 'memory' | 'redis';
  readonly clock: TestClock;
  readonly options: SessionManagerOptions;
  manager: SessionManager;
  store: SessionStore;
  /** Redis key prefix of the current store ('' for memory). */
  prefix: string;
  readonly redis?: RedisReader;
  /** A fresh, empty store (and its prefix) for dump/load. */
  fresh(): Promise<{ store: SessionStore; prefix: string }>;
  /** Deletes what a replaced store left behind (Redis keys). */
  discard(prefix: string): Promise<void>;
  readonly counters: Counters;
}

export interface Counters {
  commands: number;
  checks: number;
  introspections: number;
  dumpLoads: number;
  typedErrors: number;
  /** Outcomes by operation: `redeem ok`, `refresh TokenReused`, … */
  readonly outcomes: Map<string, number>;
}

const lifeOf = (cls: TokenClass): number => (cls === 'authorization_code' ? LIFE.code : cls === 'access_token' ? LIFE.access : LIFE.refresh);

async function outcome(p: Promise<unknown>, r: Real, op: string): Promise<unknown> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    if (e instanceof OidcSessionsError) r.counters.typedErrors++;
    err = e;
  }
  const key = `${op} ${nameOf(err)}`;
  r.counters.outcomes.set(key, (r.counters.outcomes.get(key) ?? 0) + 1);
  return err;
}

const nameOf = (e: unknown): string => (e === undefined ? 'ok' : e instanceof Error ? e.name : typeof e);

/** The outcome is one of `allowed` (error class names, or 'ok'). */
function expectOneOf(err: unknown, allowed: readonly string[], what: string): void {
  assert.ok(allowed.includes(nameOf(err)), `${what}: got ${nameOf(err)}${err instanceof Error ? ` (${err.message})` : ''}, expected ${allowed.join(' or ')}`);
}

abstract class Cmd implements fc.AsyncCommand<TreeModel, Real> {
  check(): boolean {
    return true;
  }
  async run(m: TreeModel, r: Real): Promise<void> {
    r.counters.commands++;
    const name = this.constructor.name;
    r.counters.outcomes.set(name, (r.counters.outcomes.get(name) ?? 0) + 1);
    await this.apply(m, r);
    await verify(m, r, this.toString());
  }
  abstract apply(m: TreeModel, r: Real): Promise<void>;
  abstract toString(): string;
}

// ------------------------------------------------------------------ grants

class CreateGrant extends Cmd {
  constructor(
    readonly u: number,
    readonly c: number,
    readonly offline: boolean,
    readonly bound: number | null,
    readonly lifetime: number | null,
    readonly via: 'createSession' | 'addGrant',
  ) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const userId = m.userIds[this.u % m.userIds.length]!;
    const clientId = m.clientIds[this.c % m.clientIds.length]!;
    const scope = this.offline ? 'openid offline_access' : 'openid';
    const bs = this.bound === null ? undefined : pick(m.browserSessions.filter((b) => b.userId === userId), this.bound)?.id;
    const extra = { ...(bs !== undefined && { browserSessionId: bs }), ...(this.lifetime !== null && { expiresIn: this.lifetime }) };
    const sid =
      this.via === 'createSession'
        ? await r.manager.createSession({ userId, authnEvent: { amr: ['pwd'], validFor: 3600 }, authRequest: authRequest(clientId, scope), ...extra })
        : await r.manager.addGrant(userId, clientId, { scope, authRequest: authRequest(clientId, scope), ...extra });
    const grantId = r.manager.openSessionId(sid).grantId!;
    const lifetime = this.lifetime === null ? LIFE.grant : this.lifetime * S;
    m.addGrant({ userId, clientId, id: grantId, sid, offline: this.offline, expiresAt: m.now + lifetime, ...(bs !== undefined && { bs }) });
  }
  toString(): string {
    return `${this.via}(u${this.u}, c${this.c}, ${this.offline ? 'offline' : 'online'}, bs=${this.bound}, life=${this.lifetime})`;
  }
}

// ------------------------------------------------------------------ minting

class MintFromGrant extends Cmd {
  constructor(readonly g: number, readonly cls: 'authorization_code' | 'access_token', readonly bound: boolean, readonly live: boolean) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const g = pick(this.live ? m.grants.filter((x) => m.grantLive(x)) : m.grants, this.g);
    if (!g) return;
    const bs = this.bound ? g.bs : undefined;
    let minted: Awaited<ReturnType<SessionManager['mintToken']>> | undefined;
    const err = await outcome(r.manager.mintToken(g.sid, this.cls, bs === undefined ? {} : { browserSessionId: bs }).then((x) => (minted = x)), r, 'mint');
    if (!m.grantExists(g)) expectOneOf(err, ['UnknownSession'], 'mint from a removed grant');
    else if (!m.grantLive(g)) expectOneOf(err, m.grantMayBeGone(g) ? ['MintingNotAllowed', 'UnknownSession'] : ['MintingNotAllowed'], 'mint from an inactive grant');
    else expectOneOf(err, ['ok'], 'mint from a live grant');
    if (minted) {
      m.addToken({
        value: minted.value,
        id: minted.token.id,
        cls: this.cls,
        grant: g,
        expiresAt: Math.min(m.now + lifeOf(this.cls), g.expiresAt),
        offline: false, // a code or a token minted straight from the grant is a product of the login
        ...(bs !== undefined && { bs }),
      });
    }
  }
  toString(): string {
    return `mint(g${this.g}, ${this.cls}${this.bound ? ', bound' : ''}${this.live ? ', live' : ''})`;
  }
}

/** An access token minted from a parent token (a code or a refresh token may mint one). */
class MintFromToken extends Cmd {
  constructor(readonly t: number) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const t = pick(m.tokens, this.t);
    if (!t) return;
    let minted: Awaited<ReturnType<SessionManager['mintToken']>> | undefined;
    const err = await outcome(r.manager.mintToken(t.grant.sid, 'access_token', { basedOn: t.value }).then((x) => (minted = x)), r, 'mintFrom');
    const gone = m.mayBeGone(t) ? ['UnknownToken'] : [];
    if (!m.grantExists(t.grant)) expectOneOf(err, ['UnknownToken'], 'mint from a token of a removed grant');
    else if (t.used || !m.active(t)) expectOneOf(err, ['MintingNotAllowed', ...gone], 'mint from an inactive or used parent');
    else if (t.cls === 'access_token') expectOneOf(err, ['MintingNotAllowed'], 'an access token mints nothing');
    else expectOneOf(err, ['ok'], `mint from an active ${t.cls}`);
    if (minted) {
      m.addToken({
        value: minted.value,
        id: minted.token.id,
        cls: 'access_token',
        grant: t.grant,
        parent: t.id,
        expiresAt: Math.min(m.now + LIFE.access, t.grant.expiresAt),
        offline: t.cls === 'authorization_code' ? t.grant.offline : t.offline, // a code's products take it from the scope
        ...(t.bs !== undefined && { bs: t.bs }),
      });
    }
  }
  toString(): string {
    return `mintFrom(t${this.t})`;
  }
}

// ------------------------------------------------------------------ redemption and refresh

class Redeem extends Cmd {
  constructor(readonly t: number, readonly fresh: boolean) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const t = pick(m.tokens.filter((x) => x.cls === 'authorization_code' && (!this.fresh || m.active(x))), this.t);
    if (!t) return;
    let set: Awaited<ReturnType<SessionManager['redeemCode']>> | undefined;
    const err = await outcome(r.manager.redeemCode(t.value, { clientId: t.grant.clientId }).then((x) => (set = x)), r, 'redeem');
    if (m.mayBeGone(t) && nameOf(err) === 'UnknownToken') return; // pruned: nothing happened
    assert.ok(m.grantExists(t.grant), `redeem of a removed grant's code gave ${nameOf(err)}`);
    if (t.used) {
      expectOneOf(err, ['TokenReused'], 'code reuse');
      // Codes have no grace window.
      assert.equal((err as TokenReused).revoked, { grant: 'grant', descendants: 'descendants', none: 'nothing' }[m.policies.code]);
      m.applyReuse(t, m.policies.code);
    } else if (!m.active(t)) {
      expectOneOf(err, ['InactiveToken'], 'inactive code');
    } else {
      expectOneOf(err, ['ok'], 'redeem an active code');
      t.used = true;
      t.usedAt = m.now;
      const g = t.grant;
      m.addToken({ value: set!.accessToken.value, id: set!.accessToken.token.id, cls: 'access_token', grant: g, parent: t.id, expiresAt: Math.min(m.now + LIFE.access, g.expiresAt), offline: g.offline, ...(t.bs !== undefined && { bs: t.bs }) });
      assert.equal(set!.refreshToken !== undefined, g.offline, 'a refresh token exactly for offline_access');
      if (set!.refreshToken) {
        const id = set!.refreshToken.token.id;
        m.addToken({ value: set!.refreshToken.value, id, cls: 'refresh_token', grant: g, parent: t.id, family: id, expiresAt: Math.min(m.now + LIFE.refresh, g.expiresAt), offline: g.offline, ...(t.bs !== undefined && { bs: t.bs }) });
      }
    }
  }
  toString(): string {
    return `redeem(t${this.t}${this.fresh ? ', active' : ''})`;
  }
}

class Refresh extends Cmd {
  constructor(readonly t: number, readonly fresh: boolean) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const t = pick(m.tokens.filter((x) => x.cls === 'refresh_token' && (!this.fresh || m.active(x))), this.t);
    if (!t) return;
    let set: Awaited<ReturnType<SessionManager['refresh']>> | undefined;
    const err = await outcome(r.manager.refresh(t.value, { clientId: t.grant.clientId }).then((x) => (set = x)), r, 'refresh');
    if (m.mayBeGone(t) && nameOf(err) === 'UnknownToken') return;
    assert.ok(m.grantExists(t.grant), `refresh of a removed grant's token gave ${nameOf(err)}`);
    if (t.used) {
      expectOneOf(err, ['TokenReused'], 'refresh reuse');
      const grace = m.policies.graceMs > 0 && m.now - t.usedAt! <= m.policies.graceMs;
      assert.equal((err as TokenReused).revoked, grace ? 'nothing' : { grant: 'grant', descendants: 'descendants', none: 'nothing' }[m.policies.refresh]);
      if (!grace) m.applyReuse(t, m.policies.refresh);
    } else if (!m.active(t)) {
      expectOneOf(err, ['InactiveToken'], 'inactive refresh token');
    } else {
      expectOneOf(err, ['ok'], 'refresh an active token');
      t.used = true;
      t.usedAt = m.now;
      const g = t.grant;
      const bs = t.bs !== undefined ? { bs: t.bs } : {};
      const successor = m.addToken({
        value: set!.refreshToken!.value,
        id: set!.refreshToken!.token.id,
        cls: 'refresh_token',
        grant: g,
        ...(t.parent !== undefined && { parent: t.parent }), // the successor takes the old token's place
        family: t.family!,
        expiresAt: Math.min(m.now + LIFE.refresh, g.expiresAt),
        offline: t.offline,
        ...bs,
      });
      m.addToken({ value: set!.accessToken.value, id: set!.accessToken.token.id, cls: 'access_token', grant: g, parent: successor.id, family: t.family!, expiresAt: Math.min(m.now + LIFE.access, g.expiresAt), offline: t.offline, ...bs });
    }
  }
  toString(): string {
    return `refresh(t${this.t}${this.fresh ? ', active' : ''})`;
  }
}

// ------------------------------------------------------------------ revocation, logout, removal

class RevokeToken extends Cmd {
  constructor(readonly t: number) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const t = pick(m.tokens, this.t);
    if (!t) return;
    const err = await outcome(r.manager.revokeToken(t.grant.sid, t.value, { recursive: true }), r, 'revokeToken');
    if (!m.grantExists(t.grant)) return expectOneOf(err, ['UnknownToken'], 'revoke a removed grant’s token');
    if (m.mayBeGone(t) && nameOf(err) === 'UnknownToken') return;
    expectOneOf(err, ['ok'], 'revoke a token');
    // A rotated-out refresh token still reaches its successors (its rotation family).
    m.revokeClosure([t.id], t.used && t.cls === 'refresh_token' && t.family ? [t.family] : []);
  }
  toString(): string {
    return `revokeToken(t${this.t})`;
  }
}

class RevokeGrant extends Cmd {
  constructor(readonly g: number) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const g = pick(m.grants, this.g);
    if (!g) return;
    const err = await outcome(r.manager.revokeGrant(g.sid), r, 'revokeGrant');
    if (!m.grantExists(g)) return expectOneOf(err, ['UnknownSession'], 'revoke a removed grant');
    expectOneOf(err, m.grantMayBeGone(g) ? ['ok', 'UnknownSession'] : ['ok'], 'revoke a grant');
    if (err === undefined) g.revoked = true;
    else g.removed = true;
  }
  toString(): string {
    return `revokeGrant(g${this.g})`;
  }
}

class RevokeClient extends Cmd {
  constructor(readonly g: number) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const g = pick(m.grants, this.g);
    if (!g) return;
    const err = await outcome(r.manager.revokeClientSession(g.sid), r, 'revokeClient');
    const c = m.client(g);
    if (!c) return expectOneOf(err, ['UnknownSession'], 'revoke a removed client session');
    expectOneOf(err, m.userMayVanish(g.userId) ? ['ok', 'UnknownSession'] : ['ok'], 'revoke a client session');
    if (err !== undefined) return m.dropUser(g.userId);
    m.revokeClient(g.userId, g.clientId);
  }
  toString(): string {
    return `revokeClientSession(g${this.g})`;
  }
}

class Logout extends Cmd {
  constructor(readonly u: number, readonly keepOffline: boolean) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const userId = m.userIds[this.u % m.userIds.length]!;
    const err = await outcome(r.manager.logoutUser(userId, { keepOffline: this.keepOffline }), r, 'logout');
    if (!m.users.has(userId)) return expectOneOf(err, ['UnknownSession'], 'log out an unknown user');
    expectOneOf(err, m.userMayVanish(userId) ? ['ok', 'UnknownSession'] : ['ok'], 'log out');
    if (err !== undefined) return m.dropUser(userId);
    m.logout(userId, this.keepOffline);
  }
  toString(): string {
    return `logoutUser(u${this.u}${this.keepOffline ? ', keepOffline' : ''})`;
  }
}

class Remove extends Cmd {
  constructor(readonly g: number, readonly level: 'grant' | 'client' | 'user') {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const g = pick(m.grants, this.g);
    if (!g) return;
    const path = this.level === 'grant' ? { userId: g.userId, clientId: g.clientId, grantId: g.id } : this.level === 'client' ? { userId: g.userId, clientId: g.clientId } : { userId: g.userId };
    const err = await outcome(r.manager.removeSession(r.manager.sessionIdOf(path)), r, 'remove');
    const u = m.users.get(g.userId);
    const exists = this.level === 'user' ? u !== undefined : this.level === 'client' ? m.client(g) !== undefined : m.grantExists(g);
    const uncertain = this.level === 'grant' ? m.grantMayBeGone(g) : m.userMayVanish(g.userId);
    if (!exists) return expectOneOf(err, ['UnknownSession'], `remove a missing ${this.level}`);
    expectOneOf(err, uncertain ? ['ok', 'UnknownSession'] : ['ok'], `remove a ${this.level}`);
    if (this.level === 'grant') g.removed = true;
    else if (this.level === 'client') m.removeClient(g.userId, g.clientId);
    else m.dropUser(g.userId);
  }
  toString(): string {
    return `removeSession(g${this.g}, ${this.level})`;
  }
}

// ------------------------------------------------------------------ browser sessions

class StartBrowserSession extends Cmd {
  constructor(readonly u: number, readonly validFor: number) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const userId = m.userIds[this.u % m.userIds.length]!;
    const id = await r.manager.startBrowserSession(userId, { validFor: this.validFor });
    m.startBrowserSession(userId, id, m.now + this.validFor * S);
  }
  toString(): string {
    return `startBrowserSession(u${this.u}, ${this.validFor}s)`;
  }
}

class EndBrowserSession extends Cmd {
  constructor(readonly b: number) {
    super();
  }
  async apply(m: TreeModel, r: Real): Promise<void> {
    const b = pick(m.browserSessions, this.b);
    if (!b) return;
    const ended = await r.manager.endBrowserSession(b.userId, b.id);
    const held = m.users.get(b.userId)?.bs.has(b.id) ?? false;
    if (held && !ended && m.userMayVanish(b.userId)) return m.dropUser(b.userId);
    assert.equal(ended, held, `endBrowserSession answered ${ended}, the model holds it: ${held}`);
    m.users.get(b.userId)?.bs.delete(b.id);
  }
  toString(): string {
    return `endBrowserSession(b${this.b})`;
  }
}

// ------------------------------------------------------------------ time, purge, dump/load

class Advance extends Cmd {
  constructor(readonly seconds: number) {
    super();
  }
  async apply(_m: TreeModel, r: Real): Promise<void> {
    r.clock.advanceSeconds(this.seconds);
  }
  toString(): string {
    return `advance(${this.seconds}s)`;
  }
}

class Purge extends Cmd {
  async apply(m: TreeModel, r: Real): Promise<void> {
    await purgeAll(r.manager);
    m.purge();
  }
  toString(): string {
    return 'purgeExpired()';
  }
}

/** The records a dump/load must carry over: everything not yet expired (expired ones may be pruned on load). */
function liveProjection(d: TreeDump, now: number): TreeDump {
  const grants = d.grants.filter((g) => g.expiresAt > now);
  const owners = new Set<string>(grants.map((g) => g.userId));
  for (const u of d.users) if (Object.values(u.browserSessions).some((b) => b.expiresAt > now)) owners.add(u.userId);
  return canonicalDump({
    version: 1,
    users: d.users.filter((u) => owners.has(u.userId)),
    clients: d.clients.filter((c) => owners.has(c.userId)),
    grants,
    tokens: d.tokens.filter((t) => t.expiresAt > now),
    markers: d.markers.filter((x) => x.expiresAt > now),
  });
}

class DumpLoad extends Cmd {
  async apply(_m: TreeModel, r: Real): Promise<void> {
    const before = await r.manager.dump();
    // Through JSON: a dump is plain data and must survive being written out and read back.
    const data: unknown = JSON.parse(JSON.stringify(before));
    const { store, prefix } = await r.fresh();
    const next = makeManager(store, r.clock, r.options);
    await next.load(data);
    const old = r.prefix;
    r.manager = next;
    r.store = store;
    r.prefix = prefix;
    await r.discard(old);
    r.counters.dumpLoads++;
    const after = await next.dump();
    assert.deepEqual(liveProjection(after, r.clock.now), liveProjection(before, r.clock.now), 'dump → load → dump keeps every live record');
  }
  toString(): string {
    return 'dump → load into a fresh store';
  }
}

// ------------------------------------------------------------------ the checks after every step

/**
 * After every step: the audit finds nothing (no orphan, no active token under an inactive
 * ancestor, no dead index entry), the model and the store hold the same tree, and they agree on
 * which tokens are active — through the records (activity rule) and through `introspect`.
 */
export async function verify(m: TreeModel, r: Real, label: string): Promise<void> {
  const now = r.clock.now;
  const d = await r.manager.dump();
  const audit = auditDump(d, now, { singleRefreshPerFamily: true });
  const index = r.kind === 'memory' ? await auditMemoryIndex(r.store as MemoryStore, d) : (await auditRedisKeys(r.redis!, r.prefix, now)).violations;
  assert.deepEqual([...audit.violations, ...index], [], `after ${label}: the audit found violations`);
  assert.deepEqual(reconcile(m, d), [], `after ${label}: model and store differ`);

  // Active tokens: by the activity rule over the store's records, and by the model.
  const users = new Map(d.users.map((u) => [u.userId, u]));
  const clients = new Map(d.clients.map((c) => [JSON.stringify([c.userId, c.clientId]), c]));
  const grants = new Map(d.grants.map((g) => [g.id, g]));
  const storeActive = new Set<string>();
  for (const t of d.tokens) {
    const user = users.get(t.userId);
    const client = clients.get(JSON.stringify([t.userId, t.clientId]));
    const grant = grants.get(t.grantId);
    if (user && client && grant && tokenInactiveReason({ user, client, grant, token: t }, now) === undefined) storeActive.add(t.id);
  }
  const modelActive = new Set(m.tokens.filter((t) => m.active(t)).map((t) => t.id));
  assert.deepEqual([...storeActive].sort(), [...modelActive].sort(), `after ${label}: active tokens differ between the store's records and the model`);
  for (const t of m.tokens) {
    const intro = await r.manager.introspect(t.value);
    r.counters.introspections++;
    assert.equal(intro.active, modelActive.has(t.id), `after ${label}: introspect(${t.cls} ${t.id}) = ${intro.active}, model ${modelActive.has(t.id)}`);
  }
  for (const userId of m.users.keys()) {
    for (const clientId of m.clientIds) {
      const got = await r.manager.getGrantByResponseType(userId, clientId, 'code');
      assert.equal(got?.id, m.newestLiveGrant(userId, clientId)?.id, `after ${label}: newest live grant of a (user, client)`);
    }
  }
  r.counters.checks++;
}

// ------------------------------------------------------------------ arbitraries

/** Mostly one of the newest few entries (the interesting ones), sometimes any. */
const idx = fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 2 }) }, { weight: 1, arbitrary: fc.nat({ max: 1000 }) });

export const commandArbitraries: Array<fc.Arbitrary<fc.AsyncCommand<TreeModel, Real>>> = [
  fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .tuple(fc.nat(), fc.nat(), fc.boolean(), fc.option(idx, { nil: null }), fc.constantFrom(null, null, 60, 600), fc.constantFrom('createSession' as const, 'addGrant' as const))
        .map(([u, c, off, bs, life, via]) => new CreateGrant(u, c, off, bs, life, via)),
    },
    {
      weight: 10,
      arbitrary: fc
        .tuple(idx, fc.constantFrom('authorization_code' as const, 'authorization_code' as const, 'access_token' as const), fc.boolean(), fc.boolean(), fc.boolean())
        .map(([g, cls, b, l1, l2]) => new MintFromGrant(g, cls, b, l1 || l2)),
    },
    { weight: 1, arbitrary: idx.map((t) => new MintFromToken(t)) },
    // `fresh` (3 in 4) picks among tokens the model holds active, so exchanges succeed often; otherwise any (reuse, inactive).
    { weight: 7, arbitrary: fc.tuple(idx, fc.boolean(), fc.boolean()).map(([t, a, b]) => new Redeem(t, a || b)) },
    { weight: 8, arbitrary: fc.tuple(idx, fc.boolean(), fc.boolean()).map(([t, a, b]) => new Refresh(t, a || b)) },
    { weight: 2, arbitrary: idx.map((t) => new RevokeToken(t)) },
    { weight: 1, arbitrary: idx.map((g) => new RevokeGrant(g)) },
    { weight: 1, arbitrary: idx.map((g) => new RevokeClient(g)) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(), fc.boolean()).map(([u, k]) => new Logout(u, k)) },
    { weight: 1, arbitrary: fc.tuple(idx, fc.constantFrom('grant' as const, 'client' as const, 'user' as const)).map(([g, l]) => new Remove(g, l)) },
    { weight: 2, arbitrary: fc.tuple(fc.nat(), fc.constantFrom(60, 600, 7200)).map(([u, v]) => new StartBrowserSession(u, v)) },
    { weight: 1, arbitrary: idx.map((b) => new EndBrowserSession(b)) },
    // Time: mostly within the grace window and token lifetimes, sometimes past codes, tokens, grants.
    { weight: 3, arbitrary: fc.constantFrom(1, 3, 6, 60).map((s) => new Advance(s)) },
    { weight: 1, arbitrary: fc.constantFrom(400, 700, 2000, 4000).map((s) => new Advance(s)) },
    { weight: 1, arbitrary: fc.constant(new Purge()) },
    { weight: 1, arbitrary: fc.constant(new DumpLoad()) },
  ),
];

export type { MGrant, MToken };
