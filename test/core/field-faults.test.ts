/** Field faults 6, 7, 9, 11, 18 and 19 (reference/field-faults.md) at the manager level, memory store. */
import assert from 'node:assert/strict';
import { InactiveToken, TokenReused } from '../../src/errors.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import {
  TestClock,
  VERIFIER,
  authRequest,
  codeFlow,
  makeManager,
  newSession,
  pkceChallenge,
  prototypeSnapshot,
  purgeAll,
  rejectsWith,
} from '../conformance/harness.js';

describe('field faults (manager level)', () => {
  let clock: TestClock;
  let store: MemoryStore;
  let m: SessionManager;
  beforeEach(() => {
    clock = new TestClock();
    store = new MemoryStore();
    m = makeManager(store, clock);
  });
  const active = async (mgr: SessionManager, v: string) => (await mgr.introspect(v)).active;

  it('fault 6: a code exchanged again 5 s later is refused; AT1 inactive, RT1 refused, grant revoked, reuse event emitted', async () => {
    const events: Array<{ name: string; revoked?: string }> = [];
    m.on('token.reused', (e) => events.push({ name: 'token.reused', revoked: e.revoked }));
    m.on('grant.revoked', (e) => events.push({ name: 'grant.revoked', revoked: e.reason }));
    const f = await codeFlow(m, 'U', 'C');
    clock.advanceSeconds(5);
    await rejectsWith(m.redeemCode(f.code, { clientId: 'C' }), TokenReused, (e) => {
      assert.equal(e.revoked, 'grant');
      assert.equal(e.status, 400);
    });
    assert.deepEqual(await m.introspect(f.access), { active: false });
    await rejectsWith(m.refresh(f.refresh!, { clientId: 'C' }), InactiveToken, (e) => assert.equal(e.reason, 'grant_revoked'));
    assert.equal((await m.getSessionInfo(f.sessionId, { grant: true })).grant!.revoked, true);
    assert.deepEqual(events, [
      { name: 'token.reused', revoked: 'grant' },
      { name: 'grant.revoked', revoked: 'token_reused' },
    ]);
  });

  describe('fault 7: ten simultaneous redemptions of one PKCE code', () => {
    async function race(mm: SessionManager) {
      const sid = await newSession(mm, 'U', 'C');
      const code = await mm.mintToken(sid, 'authorization_code', { codeBinding: { codeChallenge: pkceChallenge(VERIFIER), codeChallengeMethod: 'S256', redirectUri: 'https://app.example/cb' } });
      const before = (await mm.dump()).tokens.length;
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => mm.redeemCode(code.value, { clientId: 'C', codeVerifier: VERIFIER, redirectUri: 'https://app.example/cb' })),
      );
      return { sid, results, before };
    }

    it('exactly one succeeds; the nine others are TokenReused and mint nothing (policy none)', async () => {
      const mm = makeManager(store, clock, { reusePolicy: { code: 'none' } });
      const { results, before } = await race(mm);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const losers = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.equal(losers.length, 9);
      for (const l of losers) assert.ok(l.reason instanceof TokenReused && l.reason.revoked === 'nothing');
      const d = await mm.dump();
      assert.equal(d.tokens.length, before - 1 + 2, 'the code became a marker; one access and one refresh token were minted');
    });

    it('with the default policy the losers revoke the grant (documented switch)', async () => {
      const { sid, results } = await race(m);
      const win = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<SessionManager['redeemCode']>>>;
      assert.ok(win);
      assert.equal(await active(m, win.value.accessToken.value), false);
      assert.equal((await m.getSessionInfo(sid, { grant: true })).grant!.revoked, true);
    });
  });

  it('fault 9: after refresh reuse revokes G, getGrantByResponseType is undefined and listUserSessions does not list G', async () => {
    const f = await codeFlow(m, 'U', 'C');
    const gid = m.openSessionId(f.sessionId).grantId;
    assert.equal((await m.getGrantByResponseType('U', 'C', 'code'))?.id, gid);
    await m.refresh(f.refresh!, { clientId: 'C' });
    clock.advanceSeconds(10);
    await rejectsWith(m.refresh(f.refresh!, { clientId: 'C' }), TokenReused, (e) => assert.equal(e.revoked, 'grant'));
    assert.equal(await m.getGrantByResponseType('U', 'C', 'code'), undefined);
    const sessions = await m.listUserSessions('U');
    assert.equal(sessions.clients.flatMap((c) => c.grants).find((g) => g.grant.id === gid), undefined, 'G is not listed');
    // Asked for explicitly, G shows up with the reason it is dead.
    const all = await m.listUserSessions('U', { includeInactive: true });
    const listed = all.clients.flatMap((c) => c.grants).find((g) => g.grant.id === gid);
    assert.ok(listed, 'G is listed with includeInactive');
    assert.equal(listed.active, false);
    assert.equal(listed.inactiveReason, 'grant_revoked');
    assert.deepEqual(await m.getSidsByUserId('U'), []);
    // A new consent creates a new grant; G is never resurrected.
    const again = await newSession(m, 'U', 'C');
    assert.equal((await m.getGrantByResponseType('U', 'C', 'code'))?.id, m.openSessionId(again).grantId);
    assert.equal((await m.getSessionInfo(f.sessionId, { grant: true })).grant!.revoked, true);
  });

  describe('fault 11: logging out kills the session\'s access tokens', () => {
    async function browserFlow(scope: string) {
      const bs = await m.startBrowserSession('U', { validFor: 3600 });
      const sid = await m.createSession({ userId: 'U', authnEvent: {}, authRequest: authRequest('C', scope), browserSessionId: bs });
      const code = await m.mintToken(sid, 'authorization_code', { browserSessionId: bs });
      const set = await m.redeemCode(code.value, { clientId: 'C' });
      return { bs, sid, set };
    }

    it('RP-initiated logout of the browser session: AT1 introspects active:false and fails validation', async () => {
      const { bs, set } = await browserFlow('openid');
      assert.equal(await active(m, set.accessToken.value), true);
      await m.endBrowserSession('U', bs);
      assert.deepEqual(await m.introspect(set.accessToken.value), { active: false });
      await rejectsWith(m.validateToken(set.accessToken.value), InactiveToken, (e) => assert.equal(e.reason, 'browser_session_ended'));
    });

    it('logout everywhere (keep offline): session tokens die, offline_access tokens survive until the grant is revoked', async () => {
      const online = await browserFlow('openid');
      const offline = await browserFlow('openid offline_access');
      await m.logoutUser('U', { keepOffline: true });
      assert.equal(await active(m, online.set.accessToken.value), false);
      assert.equal(await active(m, offline.set.accessToken.value), true);
      assert.equal(await active(m, offline.set.refreshToken!.value), true);
      await m.revokeGrant(offline.sid);
      assert.equal(await active(m, offline.set.refreshToken!.value), false);
    });
  });

  it('fault 18: 10,000 rotations with 60 s access tokens: the index tracks live members only and a purge leaves nothing dead', async () => {
    const mm = makeManager(store, clock, { tokenPolicies: { access_token: { expiresIn: 60 } } });
    const f = await codeFlow(mm, 'U', 'C');
    let rt = f.refresh!;
    for (let i = 1; i <= 10_000; i++) {
      clock.advanceSeconds(1);
      rt = (await mm.refresh(rt, { clientId: 'C' })).refreshToken!.value;
      if (i % 1000 === 0) {
        const s = store.stats();
        // Live: the access tokens of the last 60 s and the one refresh token (pruning removes ≤ 4 per write).
        assert.ok(s.tokens <= 61 + 1 + 4, `after ${i} rotations the grant indexes ${s.tokens} token records`);
        assert.equal(s.hashes, s.tokens + s.markers);
      }
    }
    // Consumed refresh tokens are kept only as reuse markers, until they would have expired.
    const d = await mm.dump();
    assert.ok(d.markers.every((x) => x.expiresAt > clock.now), 'no dead marker is kept');
    clock.advanceSeconds(61);
    await purgeAll(mm);
    const after = store.stats();
    assert.equal(after.tokens, 1, 'only the live refresh token is left');
    const d2 = await mm.dump();
    assert.ok(d2.tokens.every((t) => t.expiresAt > clock.now) && d2.markers.every((x) => x.expiresAt > clock.now));
    assert.equal(await active(mm, rt), true);
    // Once the chain has expired, the sweep removes everything.
    clock.advanceSeconds(15 * 86400);
    await purgeAll(mm);
    assert.deepEqual(store.stats(), { users: 0, clients: 0, grants: 0, tokens: 0, markers: 0, hashes: 0 });
  });

  describe('fault 19: untrusted ids as keys', () => {
    it('user "__proto__" with client "constructor" is ordinary data, retrievable and listable; Object.prototype untouched', async () => {
      const before = prototypeSnapshot();
      const f = await codeFlow(m, '__proto__', 'constructor');
      assert.equal(({} as Record<string, unknown>).sid, undefined);
      assert.deepEqual(prototypeSnapshot(), before);
      assert.equal(Object.getPrototypeOf({}), Object.prototype);
      assert.deepEqual((await m.getUserInfo('__proto__')).clientIds, ['constructor']);
      assert.equal((await m.validateToken(f.access)).userId, '__proto__');
      const sessions = await m.listUserSessions('__proto__');
      assert.deepEqual(sessions.clients.map((c) => c.clientId), ['constructor']);
      assert.equal((await m.getSidsByUserId('__proto__')).length, 1);
      await m.startBrowserSession('__proto__', { validFor: 60, id: '__proto__' });
      assert.equal(await m.isBrowserSessionLive('__proto__', '__proto__'), true);
      assert.deepEqual(prototypeSnapshot(), before);
    });

    it('"a;;b"+"c" and "a"+"b;;c" are two records; revoking the first leaves the second intact', async () => {
      const first = await codeFlow(m, 'a;;b', 'c');
      const second = await codeFlow(m, 'a', 'b;;c');
      assert.equal(store.stats().grants, 2);
      await m.revokeClientSession(first.sessionId);
      assert.equal(await active(m, first.access), false);
      assert.equal(await active(m, second.access), true);
      assert.equal((await m.getClientSessionInfo(second.sessionId)).revoked, false);
    });
  });
});
