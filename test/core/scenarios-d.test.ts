/** The acceptance scenarios of oidcop-behaviours.md §D, on the memory store. */
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { InactiveToken, MintingNotAllowed, TokenReused, UnknownToken } from '../../src/errors.js';
import { SessionManager } from '../../src/manager/session-manager.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { SessionStore } from '../../src/store/store.js';
import {
  HOSTILE_IDS,
  SECRETS,
  SECRET_SPELLINGS,
  TestClock,
  authRequest,
  canonicalDump,
  codeFlow,
  jwtOptions,
  makeManager,
  newSession,
  rejectsWith,
} from '../conformance/harness.js';

describe('reference §D: acceptance scenarios', () => {
  let clock: TestClock;
  let store: MemoryStore;
  let m: SessionManager;
  beforeEach(() => {
    clock = new TestClock();
    store = new MemoryStore();
    m = makeManager(store, clock);
  });
  const active = async (mgr: SessionManager, v: string) => (await mgr.introspect(v)).active;

  it('D-1 hostile ids round-trip through session ids and never address another user\'s nodes', async () => {
    const flows = [];
    for (const id of HOSTILE_IDS) flows.push({ id, f: await codeFlow(m, id, id) });
    for (const { id, f } of flows) assert.deepEqual(m.openSessionId(f.sessionId), { userId: id, clientId: id, grantId: m.openSessionId(f.sessionId).grantId });
    for (const [i, { f }] of flows.entries()) {
      await m.revokeGrant(f.sessionId);
      for (const [j, other] of flows.entries()) assert.equal(await active(m, other.f.access), j > i, `revoking ${i} hit ${j}`);
    }
  });

  it('D-2 revokeGrant, revokeClientSession, logout and user deletion each make every token under them fail validation', async () => {
    const g = await codeFlow(m, 'u1', 'c');
    await m.revokeGrant(g.sessionId);
    const c = await codeFlow(m, 'u2', 'c');
    await m.revokeClientSession(c.sessionId);
    const l = await codeFlow(m, 'u3', 'c');
    await m.logoutUser('u3');
    const d = await codeFlow(m, 'u4', 'c');
    await m.removeSession(m.sessionIdOf({ userId: 'u4' }));
    for (const f of [g, c, l, d]) {
      for (const v of [f.access, f.refresh!]) {
        await assert.rejects(m.validateToken(v), (e) => e instanceof InactiveToken || e instanceof UnknownToken);
      }
    }
    const untouched = await codeFlow(m, 'u5', 'c');
    assert.equal(await active(m, untouched.access), true);
  });

  it('D-3 two concurrent redemptions: exactly one succeeds, the other is TokenReused and (default policy) revokes the first\'s tokens', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const code = await m.mintToken(sid, 'authorization_code');
    const [a, b] = await Promise.allSettled([m.redeemCode(code.value, { clientId: 'client_1' }), m.redeemCode(code.value, { clientId: 'client_1' })]);
    const wins = [a, b].filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<SessionManager['redeemCode']>>>[];
    const losses = [a, b].filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(wins.length, 1);
    assert.ok(losses[0]!.reason instanceof TokenReused);
    assert.equal(await active(m, wins[0]!.value.accessToken.value), false);
    assert.equal(await active(m, wins[0]!.value.refreshToken!.value), false);
  });

  it('D-4 10,000 rotations then revoking the code: the whole chain is revoked in one store step', async () => {
    const calls: string[] = [];
    const counted = new Proxy(store, {
      get(t, p) {
        const v = Reflect.get(t, p);
        return typeof v === 'function' ? (...a: unknown[]) => (calls.push(String(p)), (v as (...x: unknown[]) => unknown).apply(t, a)) : v;
      },
    }) as SessionStore;
    const mm = makeManager(counted, clock);
    const f = await codeFlow(mm, 'diana', 'client_1');
    let rt = f.refresh!;
    const ats: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const r = await mm.refresh(rt, { clientId: 'client_1' });
      rt = r.refreshToken!.value;
      if (i % 1000 === 999) ats.push(r.accessToken.value);
    }
    calls.length = 0;
    await mm.revokeToken(f.sessionId, f.code, { recursive: true });
    assert.deepEqual(calls.filter((c) => c === 'revokeToken'), ['revokeToken'], 'one atomic store step');
    assert.equal(await active(mm, rt), false);
    for (const v of ats) assert.equal(await active(mm, v), false);
    await rejectsWith(mm.refresh(rt, { clientId: 'client_1' }), InactiveToken);
  });

  it('D-4 (depth) a lineage 20,000 tokens deep is revoked without stack growth', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    let parent = await m.mintToken(sid, 'refresh_token', { usageRules: { maxUsage: 1_000_000 } });
    const root = parent.value;
    for (let i = 0; i < 20_000; i++) parent = await m.mintToken(sid, 'refresh_token', { basedOn: parent.value });
    assert.equal(await m.revokeToken(sid, root, { recursive: true }), 20_001);
    assert.equal(await active(m, parent.value), false);
  });

  it('D-5 dump/load keeps grant ids, token ids, lineage and housekeeping settings, and holds no key material', async () => {
    const sid = await m.createSession({
      userId: 'diana',
      authnEvent: {},
      authRequest: authRequest('client_1'),
      tokenUsageRules: { access_token: { expiresIn: 120 } },
      expiresIn: 7200,
    });
    const code = await m.mintToken(sid, 'authorization_code');
    const set = await m.redeemCode(code.value, { clientId: 'client_1' });
    await m.refresh(set.refreshToken!.value, { clientId: 'client_1' });
    const dump = await m.dump();
    const text = JSON.stringify(dump);
    for (const s of SECRET_SPELLINGS) assert.ok(!text.includes(s));
    const copy = makeManager(new MemoryStore(), clock);
    await copy.load(JSON.parse(text));
    const d2 = await copy.dump();
    assert.deepEqual(canonicalDump(d2), canonicalDump(dump));
    const g = d2.grants[0]!;
    assert.equal(g.id, m.openSessionId(sid).grantId);
    assert.equal(g.usageRules.access_token!.expiresIn, 120);
    assert.equal(g.expiresAt - g.issuedAt, 7200_000);
    assert.equal(d2.tokens.find((t) => t.id === set.accessToken.token.id)?.basedOn, code.token.id);
  });

  it('D-6 deleting a user, a client session or a grant leaves no records behind', async () => {
    const a = await codeFlow(m, 'u', 'c1');
    await codeFlow(m, 'u', 'c1');
    await codeFlow(m, 'u', 'c2');
    await m.removeSession(a.sessionId);
    let s = store.stats();
    assert.equal(s.grants, 2);
    assert.equal(s.hashes, s.tokens + s.markers);
    await m.removeSession(m.sessionIdOf({ userId: 'u', clientId: 'c1' }));
    s = store.stats();
    assert.deepEqual([s.clients, s.grants], [1, 1]);
    await m.removeSession(m.sessionIdOf({ userId: 'u' }));
    assert.deepEqual(store.stats(), { users: 0, clients: 0, grants: 0, tokens: 0, markers: 0, hashes: 0 });
  });

  it('D-7 expired tokens, grants and browser sessions are purged by bounded sweeps', async () => {
    await m.startBrowserSession('u', { validFor: 60 });
    const sid = await m.createSession({ userId: 'u', authnEvent: {}, authRequest: authRequest('c'), expiresIn: 120 });
    for (let i = 0; i < 50; i++) await m.mintToken(sid, 'access_token', { usageRules: { expiresIn: 30 } });
    for (let i = 0; i < 30; i++) await m.createSession({ userId: `short-${i}`, authnEvent: {}, authRequest: authRequest('c'), expiresIn: 60 });
    const keep = await codeFlow(m, 'keeper', 'c');
    clock.advanceSeconds(121);
    let calls = 0;
    for (;;) {
      const n = await m.purgeExpired({ limit: 10 });
      assert.ok(n <= 10);
      calls++;
      if (n === 0) break;
    }
    assert.ok(calls >= 6, `31 expired grants and their nodes took ${calls} calls of at most 10 removals`);
    const d = await m.dump();
    assert.deepEqual(d.users.map((u) => u.userId), ['keeper']);
    assert.equal(await active(m, keep.access), true);
  });

  it('D-8 sub is stable across restarts and instances with configured secrets; pairwise differs per sector', async () => {
    const sub = async (mgr: SessionManager, sector?: string) => {
      const sid = await mgr.createSession({
        userId: 'diana',
        authnEvent: {},
        authRequest: authRequest('c'),
        ...(sector && { subType: 'pairwise' as const, sectorIdentifier: sector }),
      });
      return (await mgr.getSessionInfo(sid, { grant: true })).grant!.sub;
    };
    const other = new SessionManager({ secrets: SECRETS, clock: clock.read });
    assert.equal(await sub(m), await sub(other));
    assert.equal(await sub(m, 'a.example'), await sub(other, 'a.example'));
    assert.notEqual(await sub(m, 'a.example'), await sub(m, 'b.example'));
    assert.notEqual(await sub(m, 'a.example'), await sub(m));
  });

  it('D-9 one redemption issues access, refresh and ID token; maxUsage counts redemptions, not children', async () => {
    const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
    const sid = await newSession(mm, 'diana', 'client_1');
    const code = await mm.mintToken(sid, 'authorization_code', { codeBinding: { nonce: 'n-123' } });
    const set = await mm.redeemCode(code.value, { clientId: 'client_1' });
    assert.ok(set.accessToken && set.refreshToken && set.idToken);
    assert.equal(decodeJwt(set.idToken.value).nonce, 'n-123');
    for (const t of [set.accessToken, set.refreshToken, set.idToken]) assert.equal(t.token.basedOn, code.token.id);
    await rejectsWith(mm.mintToken(sid, 'access_token', { basedOn: code.value }), MintingNotAllowed);
  });

  it('D-10 lookup by value is one store call and answers typed errors for unknown, revoked, expired, wrong class, orphaned', async () => {
    let finds = 0;
    const inner = new MemoryStore();
    const mm = makeManager(
      new Proxy(inner, {
        get(t, p) {
          const v = Reflect.get(t, p);
          if (p === 'findToken' || p === 'findTokenNow') finds++;
          return typeof v === 'function' ? v.bind(t) : v;
        },
      }),
      clock,
    );
    const f = await codeFlow(mm, 'diana', 'client_1');
    finds = 0;
    await mm.validateToken(f.access);
    assert.equal(finds, 1);
    await rejectsWith(mm.validateToken('xyz' + 'a'.repeat(43)), UnknownToken);
    const short = await mm.mintToken(f.sessionId, 'access_token', { usageRules: { expiresIn: 1 } });
    const revoked = await mm.mintToken(f.sessionId, 'access_token');
    await mm.revokeToken(f.sessionId, revoked.value);
    await rejectsWith(mm.validateToken(revoked.value), InactiveToken, (e) => assert.equal(e.reason, 'revoked'));
    clock.advanceSeconds(2);
    await rejectsWith(mm.validateToken(short.value), InactiveToken, (e) => assert.equal(e.reason, 'expired'));
    await rejectsWith(mm.validateToken(f.refresh!, { tokenClass: 'access_token' }), InactiveToken, (e) => assert.equal(e.reason, 'wrong_class'));
    await mm.removeSession(f.sessionId);
    await rejectsWith(mm.validateToken(f.access), UnknownToken);
  });
});
