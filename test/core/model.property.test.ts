/**
 * Property test (SPEC §9): random sequences of operations run against the manager (memory store)
 * and against a simple model of the tree. After every step, for every token ever minted,
 * introspect/validateToken must agree with the model's notion of "active", and the newest
 * active grant of every (user, client) must match.
 *
 * The model is the naive one the model-based commands test uses too (test/helpers/tree-model.ts):
 * explicit parent pointers and rotation families, flags on nodes, and the activity rule of
 * SPEC §4 written out directly. Where the implementation has legitimate freedom — an expired
 * token (or the reuse marker of a consumed one) may already have been pruned — the model accepts
 * either outcome and follows what happened. This test starts no browser sessions and the memory
 * store has no lazy expiry, so those parts of the model stay idle here.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InactiveToken, OidcSessionsError, TokenReused, UnknownToken } from '../../src/errors.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import type { ReusePolicy } from '../../src/store/store.js';
import { HOSTILE_IDS, TestClock, authRequest, makeManager, purgeAll } from '../conformance/harness.js';
import { LIFE, S, TreeModel, pick } from '../helpers/tree-model.js';

const GRACE = 5 * S;

type Op =
  | { op: 'create'; u: number; c: number; offline: boolean }
  | { op: 'mint'; g: number; cls: 'authorization_code' | 'access_token' }
  | { op: 'redeem'; t: number; fresh: boolean }
  | { op: 'refresh'; t: number; fresh: boolean }
  | { op: 'revokeGrant'; g: number }
  | { op: 'revokeClient'; g: number }
  | { op: 'revokeToken'; t: number }
  | { op: 'logout'; u: number; keepOffline: boolean }
  | { op: 'remove'; g: number; level: 'grant' | 'client' | 'user' }
  | { op: 'advance'; s: number }
  | { op: 'purge' };

/** An index into a list, counted from its newest entry; mostly one of the last few (the interesting ones). */
const nat = fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 2 }) }, { weight: 1, arbitrary: fc.nat({ max: 1000 }) });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('create' as const), u: nat, c: nat, offline: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('mint' as const), g: nat, cls: fc.constantFrom('authorization_code' as const, 'authorization_code' as const, 'access_token' as const) }) },
  // `fresh` picks among tokens not used yet, so successful exchanges are common; otherwise any (reuse).
  { weight: 5, arbitrary: fc.record({ op: fc.constant('redeem' as const), t: nat, fresh: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant('refresh' as const), t: nat, fresh: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('revokeGrant' as const), g: nat }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('revokeClient' as const), g: nat }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('revokeToken' as const), t: nat }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('logout' as const), u: nat, keepOffline: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), g: nat, level: fc.constantFrom('grant' as const, 'client' as const, 'user' as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), s: fc.constantFrom(1, 1, 4, 6, 6, 60, 301, 700, 2000) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purge' as const) }) },
);

/** Ids: hostile ones (separators, trailing spaces, NUL, __proto__, 2 kB) and arbitrary well-formed strings. */
const idArb = fc.oneof(
  fc.constantFrom(...HOSTILE_IDS),
  fc.string({ minLength: 1, maxLength: 6, unit: 'binary' }).filter((s) => s.isWellFormed()),
);
const policyArb = fc.constantFrom<ReusePolicy>('grant', 'descendants', 'none');

/** Runs one call and returns its error (or undefined); a non-typed error fails the test at once. */
async function outcome(p: Promise<unknown>): Promise<OidcSessionsError | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    assert.ok(e instanceof OidcSessionsError, `untyped error: ${(e as Error)?.stack}`);
    return e;
  }
}
const nameOf = (e: OidcSessionsError | undefined) => e?.name ?? 'ok';

async function runSequence(users: string[], clients: string[], codePolicy: ReusePolicy, refreshPolicy: ReusePolicy, ops: Op[]): Promise<void> {
  const clock = new TestClock();
  const m: SessionManager = makeManager(undefined, clock, {
    tokenPolicies: { authorization_code: { expiresIn: 300 }, access_token: { expiresIn: 600 }, refresh_token: { expiresIn: 1800 } },
    grantLifetime: LIFE.grant / S,
    refresh: { graceSeconds: GRACE / S },
    reusePolicy: { code: codePolicy, refresh: refreshPolicy },
  });
  const model = new TreeModel(users, clients, { code: codePolicy, refresh: refreshPolicy, graceMs: GRACE }, false, clock);
  const log: string[] = [];

  for (const op of ops) {
    log.push(JSON.stringify(op));
    const ctx = () => `after ${log.join(' → ')}`;
    switch (op.op) {
      case 'create': {
        const userId = users[op.u % users.length]!;
        const clientId = clients[op.c % clients.length]!;
        const sid = await m.createSession({ userId, authnEvent: {}, authRequest: authRequest(clientId, op.offline ? 'openid offline_access' : 'openid') });
        model.addGrant({ userId, clientId, id: m.openSessionId(sid).grantId!, sid, offline: op.offline, expiresAt: model.now + LIFE.grant });
        break;
      }
      case 'mint': {
        const g = pick(model.grants, op.g);
        if (!g) break;
        let minted: Awaited<ReturnType<SessionManager['mintToken']>> | undefined;
        const err = await outcome(m.mintToken(g.sid, op.cls).then((x) => (minted = x)));
        const expected = !model.grantExists(g) ? 'UnknownSession' : model.grantLive(g) ? 'ok' : 'MintingNotAllowed';
        assert.equal(nameOf(err), expected, `mint ${ctx()}`);
        if (minted) {
          const life = op.cls === 'authorization_code' ? LIFE.code : LIFE.access;
          // A code, or a token minted straight from the grant, is never offline.
          model.addToken({ value: minted.value, id: minted.token.id, cls: op.cls, grant: g, expiresAt: Math.min(model.now + life, g.expiresAt), offline: false });
        }
        break;
      }
      case 'redeem': {
        const t = pick(model.tokens.filter((x) => x.cls === 'authorization_code' && !(op.fresh && x.used)), op.t);
        if (!t) break;
        let set: Awaited<ReturnType<SessionManager['redeemCode']>> | undefined;
        const err = await outcome(m.redeemCode(t.value, { clientId: t.grant.clientId }).then((x) => (set = x)));
        if (model.mayBeGone(t) && err instanceof UnknownToken) break; // pruned: nothing happened
        if (t.grant.removed) assert.fail(`redeem of a removed grant's code: ${nameOf(err)} ${ctx()}`);
        if (t.used) {
          assert.ok(err instanceof TokenReused, `code reuse gave ${nameOf(err)} ${ctx()}`);
          model.applyReuse(t, codePolicy);
        } else if (!model.active(t)) {
          assert.ok(err instanceof InactiveToken, `inactive code gave ${nameOf(err)} ${ctx()}`);
        } else {
          assert.equal(nameOf(err), 'ok', `redeem ${ctx()}`);
          t.used = true;
          t.usedAt = model.now;
          // Offline: what a code or refresh token produced under offline_access.
          const offline = t.grant.offline;
          model.addToken({ value: set!.accessToken.value, id: set!.accessToken.token.id, cls: 'access_token', grant: t.grant, parent: t.id, expiresAt: Math.min(model.now + LIFE.access, t.grant.expiresAt), offline });
          assert.equal(set!.refreshToken !== undefined, t.grant.offline, `refresh token iff offline_access ${ctx()}`);
          if (set!.refreshToken) {
            const id = set!.refreshToken.token.id;
            model.addToken({ value: set!.refreshToken.value, id, cls: 'refresh_token', grant: t.grant, parent: t.id, family: id, expiresAt: Math.min(model.now + LIFE.refresh, t.grant.expiresAt), offline });
          }
        }
        break;
      }
      case 'refresh': {
        const t = pick(model.tokens.filter((x) => x.cls === 'refresh_token' && !(op.fresh && x.used)), op.t);
        if (!t) break;
        let set: Awaited<ReturnType<SessionManager['refresh']>> | undefined;
        const err = await outcome(m.refresh(t.value, { clientId: t.grant.clientId }).then((x) => (set = x)));
        if (model.mayBeGone(t) && err instanceof UnknownToken) break;
        if (t.grant.removed) assert.fail(`refresh of a removed grant's token: ${nameOf(err)} ${ctx()}`);
        if (t.used) {
          assert.ok(err instanceof TokenReused, `refresh reuse gave ${nameOf(err)} ${ctx()}`);
          const withinGrace = model.now - t.usedAt! <= GRACE;
          assert.equal(err.revoked, withinGrace ? 'nothing' : { grant: 'grant', descendants: 'descendants', none: 'nothing' }[refreshPolicy], ctx());
          if (!withinGrace) model.applyReuse(t, refreshPolicy);
        } else if (!model.active(t)) {
          assert.ok(err instanceof InactiveToken, `inactive refresh token gave ${nameOf(err)} ${ctx()}`);
        } else {
          assert.equal(nameOf(err), 'ok', `refresh ${ctx()}`);
          t.used = true;
          t.usedAt = model.now;
          const successor = model.addToken({
            value: set!.refreshToken!.value,
            id: set!.refreshToken!.token.id,
            cls: 'refresh_token',
            grant: t.grant,
            ...(t.parent !== undefined && { parent: t.parent }),
            family: t.family!,
            expiresAt: Math.min(model.now + LIFE.refresh, t.grant.expiresAt),
            offline: t.grant.offline,
          });
          model.addToken({
            value: set!.accessToken.value,
            id: set!.accessToken.token.id,
            cls: 'access_token',
            grant: t.grant,
            parent: successor.id,
            family: t.family!,
            expiresAt: Math.min(model.now + LIFE.access, t.grant.expiresAt),
            offline: t.grant.offline,
          });
        }
        break;
      }
      case 'revokeGrant': {
        const g = pick(model.grants, op.g);
        if (!g) break;
        const err = await outcome(m.revokeGrant(g.sid));
        const exists = model.grantExists(g);
        assert.equal(nameOf(err), exists ? 'ok' : 'UnknownSession', `revokeGrant ${ctx()}`);
        if (exists) g.revoked = true;
        break;
      }
      case 'revokeClient': {
        const g = pick(model.grants, op.g);
        if (!g) break;
        const err = await outcome(m.revokeClientSession(g.sid));
        const c = model.client(g);
        assert.equal(nameOf(err), c ? 'ok' : 'UnknownSession', `revokeClientSession ${ctx()}`);
        if (c) model.revokeClient(g.userId, g.clientId);
        break;
      }
      case 'revokeToken': {
        const t = pick(model.tokens, op.t);
        if (!t) break;
        const err = await outcome(m.revokeToken(t.grant.sid, t.value, { recursive: true }));
        if (t.grant.removed || (model.mayBeGone(t) && err instanceof UnknownToken)) {
          assert.ok(err instanceof UnknownToken, `revokeToken of a gone token gave ${nameOf(err)} ${ctx()}`);
          break;
        }
        assert.equal(nameOf(err), 'ok', `revokeToken ${ctx()}`);
        // A rotated-out refresh token still reaches its successors (its rotation family).
        model.revokeClosure([t.id], t.used && t.cls === 'refresh_token' && t.family ? [t.family] : []);
        break;
      }
      case 'logout': {
        const userId = users[op.u % users.length]!;
        const err = await outcome(m.logoutUser(userId, { keepOffline: op.keepOffline }));
        const u = model.users.get(userId);
        assert.equal(nameOf(err), u ? 'ok' : 'UnknownSession', `logout ${ctx()}`);
        if (u) model.logout(userId, op.keepOffline);
        break;
      }
      case 'remove': {
        const g = pick(model.grants, op.g);
        if (!g) break;
        const path = op.level === 'grant' ? { userId: g.userId, clientId: g.clientId, grantId: g.id } : op.level === 'client' ? { userId: g.userId, clientId: g.clientId } : { userId: g.userId };
        const err = await outcome(m.removeSession(m.sessionIdOf(path)));
        const u = model.users.get(g.userId);
        const exists = op.level === 'user' ? u !== undefined : op.level === 'client' ? model.client(g) !== undefined : model.grantExists(g);
        assert.equal(nameOf(err), exists ? 'ok' : 'UnknownSession', `remove ${op.level} ${ctx()}`);
        if (!exists) break;
        if (op.level === 'grant') g.removed = true;
        else if (op.level === 'client') model.removeClient(g.userId, g.clientId);
        else model.dropUser(g.userId);
        break;
      }
      case 'advance':
        clock.advanceSeconds(op.s);
        break;
      case 'purge':
        await purgeAll(m);
        model.purge();
        break;
    }

    // The check: every token ever minted is active exactly when the model says so.
    for (const t of model.tokens) {
      const expected = model.active(t);
      const intro = await m.introspect(t.value);
      assert.equal(intro.active, expected, `token ${t.cls} ${t.id}: introspect ${intro.active}, model ${expected} ${ctx()}`);
      const err = await outcome(m.validateToken(t.value));
      if (expected) {
        assert.equal(err, undefined, ctx());
      } else {
        assert.ok(err instanceof InactiveToken || (err instanceof UnknownToken && (model.mayBeGone(t) || t.used)), `validate gave ${nameOf(err)} ${ctx()}`);
      }
    }
    for (const userId of users) {
      for (const clientId of clients) {
        if (!model.users.has(userId)) continue;
        const got = await m.getGrantByResponseType(userId, clientId, 'code');
        assert.equal(got?.id, model.newestLiveGrant(userId, clientId)?.id, `newest grant of (${userId.slice(0, 20)}, ${clientId.slice(0, 20)}) ${ctx()}`);
      }
    }
  }
}

describe('property: random operation sequences agree with a model of the tree', function () {
  this.timeout(120_000);

  it('validateToken / introspect agree with the model after every step (hostile ids, all reuse policies)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(idArb, { minLength: 1, maxLength: 3 }),
        fc.uniqueArray(idArb, { minLength: 1, maxLength: 2 }),
        policyArb,
        policyArb,
        fc.array(opArb, { minLength: 10, maxLength: 60, size: 'max' }),
        runSequence,
      ),
      { numRuns: 120 },
    );
  });

  it('a refresh chain of 10,000 rotations, then revoking the code recursively kills the whole chain (no stack growth)', async () => {
    const clock = new TestClock();
    const m = makeManager(undefined, clock);
    const sid = await m.createSession({ userId: '__proto__', authnEvent: {}, authRequest: authRequest('a;;b') });
    const code = await m.mintToken(sid, 'authorization_code');
    const first = await m.redeemCode(code.value, { clientId: 'a;;b' });
    let rt = first.refreshToken!.value;
    const sample: string[] = [first.accessToken.value];
    for (let i = 0; i < 10_000; i++) {
      const r = await m.refresh(rt, { clientId: 'a;;b' });
      rt = r.refreshToken!.value;
      if (i % 997 === 0) sample.push(r.accessToken.value);
    }
    sample.push(rt);
    for (const v of sample) assert.equal((await m.introspect(v)).active, true);
    await m.revokeToken(sid, code.value, { recursive: true });
    for (const v of sample) assert.equal((await m.introspect(v)).active, false);
    await assert.rejects(m.refresh(rt, { clientId: 'a;;b' }), InactiveToken);
  });
});
