/**
 * The SessionStore conformance suite (SPEC §6): one contract that every store must pass.
 *
 * Most checks go THROUGH a SessionManager built on the store, because the contract is what the
 * manager relies on; where a property is about the store step itself (atomic consume, bounded
 * purge) the store is also called directly. Orphans are looked for in `dump()`, the one view of
 * everything a store holds.
 *
 * Use: `runStoreConformance('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }))`.
 * `makeStore` is called once per test and must return an EMPTY store; `cleanup` runs after it.
 */
import assert from 'node:assert/strict';
import { decodeJwt, type JWTPayload } from 'jose';
import { InactiveToken, InvalidInput, MintingNotAllowed, TokenReused, UnknownSession, UnknownToken, WrongClient } from '../../src/errors.js';
import { hashTokenValue } from '../../src/crypto/token-value.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import type { SessionManagerOptions } from '../../src/manager/options.js';
import type { SessionStore, TreeDump } from '../../src/store/store.js';
import type { TokenRecord } from '../../src/tree/records.js';
import {
  HOSTILE_IDS,
  SECRET_SPELLINGS,
  jwtOptions,
  VERIFIER,
  pkceChallenge,
  TestClock,
  authRequest,
  canonicalDump,
  codeFlow,
  dumpCounts,
  makeManager,
  newSession,
  prototypeSnapshot,
  purgeAll,
  rejectsWith,
  routeOfToken,
} from './harness.js';

export type StoreFactory = () => Promise<{ store: SessionStore; cleanup(): Promise<void> }>;

export function runStoreConformance(name: string, makeStore: StoreFactory): void {
  describe(`SessionStore conformance: ${name}`, function () {
    this.timeout(60_000);
    let store: SessionStore;
    let cleanups: Array<() => Promise<void>> = [];
    let clock: TestClock;
    let m: SessionManager;

    /** A second empty store of the same kind (for load), cleaned up with the test. */
    async function freshStore(): Promise<SessionStore> {
      const s = await makeStore();
      cleanups.push(s.cleanup);
      return s.store;
    }
    const manager = (opts: SessionManagerOptions = {}) => makeManager(store, clock, opts);
    const active = async (mgr: SessionManager, value: string) => (await mgr.introspect(value)).active;

    beforeEach(async () => {
      cleanups = [];
      clock = new TestClock();
      store = await freshStore();
      m = manager();
    });
    afterEach(async () => {
      for (const c of cleanups.reverse()) await c();
    });

    describe('nodes: create, get, list', () => {
      it('starts empty', async () => {
        assert.deepEqual(dumpCounts(await store.dump()), { users: 0, clients: 0, grants: 0, tokens: 0, markers: 0 });
      });

      it('createSession creates the user and client nodes once and one grant per call', async () => {
        const s1 = await newSession(m, 'alice', 'app');
        clock.advance(1000);
        const s2 = await newSession(m, 'alice', 'app');
        clock.advance(1000);
        const s3 = await newSession(m, 'alice', 'other');
        const counts = dumpCounts(await store.dump());
        assert.deepEqual(counts, { users: 1, clients: 2, grants: 3, tokens: 0, markers: 0 });

        const user = await m.getUserInfo('alice');
        assert.equal(user.user.userId, 'alice');
        assert.deepEqual([...user.clientIds].sort(), ['app', 'other']);

        const client = await m.getClientSessionInfo(s1);
        assert.equal(client.clientId, 'app');
        assert.equal(client.userId, 'alice');
        assert.equal(client.revoked, false);

        const info = await m.getSessionInfo(s2, { grant: true, authnEvent: true, authRequest: true, user: true, client: true });
        assert.equal(info.userId, 'alice');
        assert.equal(info.clientId, 'app');
        assert.equal(info.grant?.id, info.grantId);
        assert.equal(info.authnEvent?.authnInfo, 'urn:acr:pwd');
        assert.equal(info.authRequest?.state, 'xyz');
        assert.deepEqual(info.grant?.scope, ['openid', 'offline_access']);

        const appGrants = await m.grants(s1);
        assert.equal(appGrants.length, 2);
        assert.deepEqual(
          appGrants.map((g) => g.id),
          [m.openSessionId(s2).grantId, m.openSessionId(s1).grantId],
          'grants are listed newest first',
        );
        const all = await m.grants({ userId: 'alice' });
        assert.deepEqual(all.map((g) => g.id), [s3, s2, s1].map((s) => m.openSessionId(s).grantId));
        assert.equal((await m.grants({ userId: 'alice', clientId: 'other' })).length, 1);
        assert.equal((await m.getSidsByUserId('alice')).length, 3);
      });

      it('grants created in the same millisecond: the newer is listed first and is the one getGrantByResponseType returns (B-29)', async () => {
        const s1 = await newSession(m, 'alice', 'app');
        const s2 = await newSession(m, 'alice', 'app');
        const s3 = await newSession(m, 'alice', 'app');
        const ids = [s3, s2, s1].map((s) => m.openSessionId(s).grantId);
        assert.deepEqual((await m.grants(s1)).map((g) => g.id), ids);
        assert.equal((await m.getGrantByResponseType('alice', 'app', 'code'))?.id, ids[0]);
        await m.revokeGrant(s3);
        assert.equal((await m.getGrantByResponseType('alice', 'app', 'code'))?.id, ids[1]);
      });

      it('getGrant, getClient and getUser return undefined for absent nodes', async () => {
        await newSession(m, 'alice', 'app');
        const route = 'xyz';
        assert.equal(await store.getUser(route, 'bob'), undefined);
        assert.equal(await store.getClient(route, 'alice', 'nope'), undefined);
        const p = { route, userId: 'alice', clientId: 'app', grantId: 'nope' };
        assert.equal(await store.getGrant(p), undefined);
        assert.deepEqual(await store.listTokens(p), []);
        assert.deepEqual(await store.listGrants(route, 'bob'), []);
        await rejectsWith(m.getUserInfo('bob'), UnknownSession);
        await rejectsWith(m.getSessionInfo(m.sessionIdOf({ userId: 'alice', clientId: 'app', grantId: 'nope' })), UnknownSession);
        await rejectsWith(m.getClientSessionInfo(m.sessionIdOf({ userId: 'alice', clientId: 'nope' })), UnknownSession);
      });

      it('records handed out are copies: mutating one does not change the store', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const info = await m.getSessionInfo(sid, { grant: true });
        try {
          (info.grant!.scope as string[]).push('admin');
        } catch {
          /* frozen: also fine */
        }
        try {
          (info.grant as { revoked: boolean }).revoked = true;
        } catch {
          /* frozen */
        }
        const again = await m.getSessionInfo(sid, { grant: true });
        assert.deepEqual(again.grant!.scope, ['openid', 'offline_access']);
        assert.equal(again.grant!.revoked, false);
      });
    });

    describe('tokens', () => {
      it('mints, finds by value (O(1) hash lookup) and lists tokens; the store keeps only hashes', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const code = await m.mintToken(sid, 'authorization_code');
        const at = await m.mintToken(sid, 'access_token');
        assert.equal((await m.findToken(sid, code.value))?.id, code.token.id);
        assert.equal((await m.findToken(sid, at.value))?.class, 'access_token');
        // The route is the user's shard (read from every token value); sharded stores need it.
        const path = { route: routeOfToken(code.value), ...m.openSessionId(sid) } as { route: string; userId: string; clientId: string; grantId: string };
        const listed = await store.listTokens(path);
        assert.deepEqual(listed.map((t) => t.id).sort(), [code.token.id, at.token.id].sort());
        const byHash = await m.validateToken(at.value, { tokenClass: 'access_token', clientId: 'app' });
        assert.equal(byHash.token.id, at.token.id);
        assert.equal(byHash.userId, 'alice');
        const dumped = JSON.stringify(await store.dump());
        assert.ok(!dumped.includes(code.value) && !dumped.includes(at.value), 'token values are not stored');
        assert.ok(dumped.includes(hashTokenValue(at.value)), 'the hash is stored');
      });

      it('a token of another grant is not found through this grant', async () => {
        const s1 = await newSession(m, 'alice', 'app');
        const s2 = await newSession(m, 'alice', 'app');
        const at = await m.mintToken(s1, 'access_token');
        assert.equal(await m.findToken(s2, at.value), undefined);
        await rejectsWith(m.revokeToken(s2, at.value), UnknownToken);
        assert.equal(await active(m, at.value), true);
      });

      it('lookup by hash: live tokens, the marker of a used code, nothing for an unknown hash; findTokenNow (if any) agrees', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const code = await m.mintToken(f.sessionId, 'authorization_code');
        const cases: Array<[string, 'token' | 'marker' | 'none']> = [
          [f.access, 'token'],
          [f.refresh!, 'token'],
          [code.value, 'token'],
          [f.code, 'marker'], // redeemed by codeFlow: only its reuse marker is left
          ['zzz' + 'a'.repeat(43), 'none'],
        ];
        for (const [value, kind] of cases) {
          const route = routeOfToken(value);
          const hash = hashTokenValue(value);
          const found = await store.findToken(route, hash);
          assert.equal(found === undefined ? 'none' : found.marker ? 'marker' : 'token', kind);
          if (found) assert.equal(found.token?.hash ?? found.marker?.hash, hash);
          if (store.findTokenNow !== undefined) {
            const now = store.findTokenNow(hash);
            assert.ok(!(now instanceof Promise), 'findTokenNow answers without a promise');
            assert.deepEqual(now, found);
          }
        }
      });

      it('addTokens on a grant that no longer exists writes nothing', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const at = await m.mintToken(sid, 'access_token');
        await m.removeSession(sid);
        const before = await store.dump();
        const path = { route: routeOfToken(at.value), ...m.openSessionId(sid) } as { route: string; userId: string; clientId: string; grantId: string };
        const ok = await store.addTokens(path, [{ ...at.token, id: 'other', hash: 'h'.repeat(43) }]);
        assert.equal(ok, false);
        assert.deepEqual(canonicalDump(await store.dump()), canonicalDump(before));
      });
    });

    describe('consume: single use, concurrency, reuse policies, grace window', () => {
      it('exactly one of 10 concurrent redemptions of one code succeeds (policy none: the winner keeps its tokens)', async () => {
        const mm = manager({ reusePolicy: { code: 'none' } });
        const sid = await newSession(mm, 'alice', 'app');
        const code = await mm.mintToken(sid, 'authorization_code');
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => mm.redeemCode(code.value, { clientId: 'app' })));
        const ok = results.filter((r) => r.status === 'fulfilled');
        assert.equal(ok.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof TokenReused, String(r.reason));
            assert.equal(r.reason.revoked, 'nothing');
          }
        }
        const set = (ok[0] as PromiseFulfilledResult<Awaited<ReturnType<SessionManager['redeemCode']>>>).value;
        assert.equal(await active(mm, set.accessToken.value), true);
        // Only one set of tokens was written: 1 access + 1 refresh token.
        const d = await store.dump();
        assert.equal(d.tokens.filter((t) => t.class === 'access_token').length, 1);
        assert.equal(d.tokens.filter((t) => t.class === 'refresh_token').length, 1);
      });

      it('exactly one of 10 concurrent redemptions succeeds (policy grant: the losers revoke the grant)', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const code = await m.mintToken(sid, 'authorization_code');
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => m.redeemCode(code.value, { clientId: 'app' })));
        const ok = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<SessionManager['redeemCode']>>>[];
        assert.equal(ok.length, 1);
        assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof TokenReused));
        assert.equal(await active(m, ok[0]!.value.accessToken.value), false);
        assert.equal((await m.getSessionInfo(sid, { grant: true })).grant!.revoked, true);
      });

      it('store.consume called directly 10 times at once: one ok, mints written once', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const code = await m.mintToken(sid, 'authorization_code');
        const p = m.openSessionId(sid);
        const lookup = await store.findToken(routeOfToken(code.value), hashTokenValue(code.value));
        assert.ok(lookup?.token, 'findToken resolves the code');
        const route = routeOfToken(code.value);
        const mint = (i: number): TokenRecord => ({
          ...code.token,
          id: `child-${i}`,
          class: 'access_token',
          hash: hashTokenValue(`child-value-${i}`),
          basedOn: code.token.id,
          usageRules: { expiresIn: 60, supportsMinting: [] },
          codeBinding: undefined,
        });
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.consume(route, hashTokenValue(code.value), { tokenId: code.token.id, now: clock.now, mint: [mint(i)], onReuse: 'none', graceMs: 0 }),
          ),
        );
        assert.equal(results.filter((r) => r.status === 'ok').length, 1);
        assert.ok(results.every((r) => r.status === 'ok' || (r.status === 'reused' && r.revoked === 'nothing')), JSON.stringify(results));
        const tokens = await store.listTokens({ route, userId: p.userId, clientId: p.clientId!, grantId: p.grantId! });
        assert.equal(tokens.filter((t) => t.class === 'access_token').length, 1);
      });

      it('consume with a swapped token id or an unknown hash writes nothing', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const code = await m.mintToken(sid, 'authorization_code');
        const before = canonicalDump(await store.dump());
        const route = routeOfToken(code.value);
        const r1 = await store.consume(route, hashTokenValue(code.value), { tokenId: 'not-the-code', now: clock.now, mint: [], onReuse: 'grant', graceMs: 0 });
        assert.equal(r1.status, 'unknown');
        const r2 = await store.consume(route, hashTokenValue('nothing'), { tokenId: code.token.id, now: clock.now, mint: [], onReuse: 'grant', graceMs: 0 });
        assert.equal(r2.status, 'unknown');
        assert.deepEqual(canonicalDump(await store.dump()), before);
      });

      it('code reuse, policy grant (default): TokenReused, the grant and every token under it die', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const other = await m.mintToken(f.sessionId, 'access_token');
        clock.advanceSeconds(5);
        await rejectsWith(m.redeemCode(f.code, { clientId: 'app' }), TokenReused, (e) => assert.equal(e.revoked, 'grant'));
        for (const v of [f.access, f.refresh!, other.value]) assert.equal(await active(m, v), false);
        await rejectsWith(m.refresh(f.refresh!, { clientId: 'app' }), InactiveToken, (e) => assert.equal(e.reason, 'grant_revoked'));
      });

      it('code reuse, policy descendants: what the code produced dies, the grant and its other tokens live', async () => {
        const mm = manager({ reusePolicy: { code: 'descendants' } });
        const f = await codeFlow(mm, 'alice', 'app');
        const r = await mm.refresh(f.refresh!, { clientId: 'app' });
        const other = await mm.mintToken(f.sessionId, 'access_token');
        await rejectsWith(mm.redeemCode(f.code, { clientId: 'app' }), TokenReused, (e) => assert.equal(e.revoked, 'descendants'));
        for (const v of [f.access, r.accessToken.value, r.refreshToken!.value]) assert.equal(await active(mm, v), false, 'descendant still active');
        assert.equal(await active(mm, other.value), true);
        assert.equal((await mm.getSessionInfo(f.sessionId, { grant: true })).grant!.revoked, false);
      });

      it('code reuse, policy none: TokenReused, nothing revoked', async () => {
        const mm = manager({ reusePolicy: { code: 'none' } });
        const f = await codeFlow(mm, 'alice', 'app');
        await rejectsWith(mm.redeemCode(f.code, { clientId: 'app' }), TokenReused, (e) => assert.equal(e.revoked, 'nothing'));
        assert.equal(await active(mm, f.access), true);
        assert.equal(await active(mm, f.refresh!), true);
      });

      it('refresh rotation: the old token is used, the successor works, a reuse after the grace window revokes the grant', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const r1 = await m.refresh(f.refresh!, { clientId: 'app' });
        assert.notEqual(r1.refreshToken!.value, f.refresh);
        assert.equal(await active(m, f.refresh!), false);
        assert.equal(await active(m, r1.refreshToken!.value), true);
        clock.advanceSeconds(6);
        await rejectsWith(m.refresh(f.refresh!, { clientId: 'app' }), TokenReused, (e) => assert.equal(e.revoked, 'grant'));
        for (const v of [r1.refreshToken!.value, r1.accessToken.value, f.access]) assert.equal(await active(m, v), false);
      });

      it('refresh grace window: a retry within it revokes nothing; the successor still works', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const r1 = await m.refresh(f.refresh!, { clientId: 'app' });
        clock.advanceSeconds(4);
        await rejectsWith(m.refresh(f.refresh!, { clientId: 'app' }), TokenReused, (e) => assert.equal(e.revoked, 'nothing'));
        assert.equal(await active(m, r1.refreshToken!.value), true);
        assert.equal(await active(m, r1.accessToken.value), true);
        const r2 = await m.refresh(r1.refreshToken!.value, { clientId: 'app' });
        assert.equal(await active(m, r2.accessToken.value), true);
      });

      it('grace window 0 disables it: an immediate retry revokes (policy descendants: the whole family)', async () => {
        const mm = manager({ refresh: { graceSeconds: 0 }, reusePolicy: { refresh: 'descendants' } });
        const f = await codeFlow(mm, 'alice', 'app');
        const r1 = await mm.refresh(f.refresh!, { clientId: 'app' });
        const r2 = await mm.refresh(r1.refreshToken!.value, { clientId: 'app' });
        const other = await mm.mintToken(f.sessionId, 'access_token');
        await rejectsWith(mm.refresh(f.refresh!, { clientId: 'app' }), TokenReused, (e) => assert.equal(e.revoked, 'descendants'));
        for (const v of [r1.accessToken.value, r2.accessToken.value, r2.refreshToken!.value]) assert.equal(await active(mm, v), false);
        assert.equal(await active(mm, other.value), true, 'a token outside the family survives');
        assert.equal(await active(mm, f.access), true, 'the access token minted by the code is not in the refresh family');
      });

      it('concurrent refreshes of one token: exactly one succeeds', async () => {
        const mm = manager({ reusePolicy: { refresh: 'none' } });
        const f = await codeFlow(mm, 'alice', 'app');
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => mm.refresh(f.refresh!, { clientId: 'app' })));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof TokenReused));
        assert.equal((await store.dump()).tokens.filter((t) => t.class === 'refresh_token' && !t.revoked).length, 1);
      });

      it('a code presented by another client is WrongClient and stays redeemable', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const code = await m.mintToken(sid, 'authorization_code');
        await rejectsWith(m.redeemCode(code.value, { clientId: 'evil' }), WrongClient);
        const set = await m.redeemCode(code.value, { clientId: 'app' });
        assert.equal(await active(m, set.accessToken.value), true);
      });
    });

    describe('revocations cascade', () => {
      it('revokeGrant: every token under the grant is inactive; sibling grants are untouched', async () => {
        const a = await codeFlow(m, 'alice', 'app');
        const b = await codeFlow(m, 'alice', 'app');
        await m.revokeGrant(a.sessionId);
        for (const v of [a.access, a.refresh!]) {
          await rejectsWith(m.validateToken(v), InactiveToken, (e) => assert.equal(e.reason, 'grant_revoked'));
        }
        assert.equal(await active(m, b.access), true);
        await rejectsWith(m.mintToken(a.sessionId, 'access_token'), MintingNotAllowed);
      });

      it('revokeClientSession: every grant and token under the client session is inactive; other clients live', async () => {
        const a = await codeFlow(m, 'alice', 'app');
        const b = await codeFlow(m, 'alice', 'app');
        const c = await codeFlow(m, 'alice', 'other');
        await m.revokeClientSession(a.sessionId);
        for (const v of [a.access, a.refresh!, b.access, b.refresh!]) {
          await rejectsWith(m.validateToken(v), InactiveToken, (e) => assert.equal(e.reason, 'client_session_revoked'));
        }
        assert.equal(await active(m, c.access), true);
        assert.equal((await m.getClientSessionInfo(a.sessionId)).revoked, true);
        // A new grant for the same client starts a fresh client session; the old grants stay revoked.
        const d = await codeFlow(m, 'alice', 'app');
        assert.equal(await active(m, d.access), true);
        assert.equal(await active(m, a.access), false);
      });

      it('revokeToken revokes the token and every descendant, through rotations', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        let rt = f.refresh!;
        const ats: string[] = [f.access];
        for (let i = 0; i < 5; i++) {
          const r = await m.refresh(rt, { clientId: 'app' });
          rt = r.refreshToken!.value;
          ats.push(r.accessToken.value);
        }
        const unrelated = await m.mintToken(f.sessionId, 'access_token');
        const n = await m.revokeToken(f.sessionId, f.code, { recursive: true });
        assert.ok(n >= 2, `revoked ${n}`);
        for (const v of [...ats, rt]) assert.equal(await active(m, v), false);
        assert.equal(await active(m, unrelated.value), true);
      });

      it('revoking a refresh token that was already rotated out revokes its successors (RFC 7009 §2.1)', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const r1 = await m.refresh(f.refresh!, { clientId: 'app' });
        const r2 = await m.refresh(r1.refreshToken!.value, { clientId: 'app' });
        const unrelated = await m.mintToken(f.sessionId, 'access_token');
        assert.ok((await m.revokeToken(f.sessionId, r1.refreshToken!.value)) >= 2);
        for (const v of [r2.refreshToken!.value, r2.accessToken.value, r1.accessToken.value]) assert.equal(await active(m, v), false);
        assert.equal(await active(m, unrelated.value), true);
        assert.equal(await active(m, f.access), true, 'the code\'s own access token is not in the refresh family');
      });

      it('revoking an access token leaves its parent active', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const code = await m.mintToken(sid, 'authorization_code');
        const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
        await m.revokeToken(sid, at.value);
        assert.equal(await active(m, at.value), false);
        assert.equal(await active(m, code.value), true);
      });
    });

    describe('logoutUser', () => {
      it('keepOffline true: session tokens die, offline tokens and grants survive, browser sessions end', async () => {
        const bs = await m.startBrowserSession('alice', { validFor: 3600 });
        const online = await codeFlow(m, 'alice', 'app', 'openid');
        const offline = await codeFlow(m, 'alice', 'other', 'openid offline_access');
        const notices = await m.logoutUser('alice', { keepOffline: true });
        assert.deepEqual(notices.map((n) => n.clientId).sort(), ['app', 'other']);
        await rejectsWith(m.validateToken(online.access), InactiveToken, (e) => assert.equal(e.reason, 'user_logged_out'));
        assert.equal(await active(m, offline.access), true);
        assert.equal(await active(m, offline.refresh!), true);
        assert.equal(await m.isBrowserSessionLive('alice', bs), false);
        const r = await m.refresh(offline.refresh!, { clientId: 'other' });
        assert.equal(await active(m, r.accessToken.value), true);
        // Tokens minted after the logout are live again (new epoch).
        const fresh = await codeFlow(m, 'alice', 'app', 'openid');
        assert.equal(await active(m, fresh.access), true);
      });

      it('keepOffline false (default): every token dies, client sessions are revoked', async () => {
        await m.startBrowserSession('alice', { validFor: 3600 });
        const online = await codeFlow(m, 'alice', 'app', 'openid');
        const offline = await codeFlow(m, 'alice', 'other', 'openid offline_access');
        const bob = await codeFlow(m, 'bob', 'app');
        const notices = await m.logoutUser('alice');
        assert.equal(notices.length, 2);
        for (const v of [online.access, offline.access, offline.refresh!]) assert.equal(await active(m, v), false);
        assert.equal(await active(m, bob.access), true, 'another user is untouched');
        const sessions = await m.listUserSessions('alice');
        assert.ok(sessions.clients.every((c) => c.revoked && c.grants.every((g) => !g.active)));
        assert.equal(sessions.browserSessions.length, 0);
      });

      it('a code is never offline: one minted before the browser session ends or the user logs out everywhere is dead after it, whatever its scope', async () => {
        const endings = {
          'end of the browser session': { end: (bs: string) => m.endBrowserSession('alice', bs), reason: 'browser_session_ended', bsOnly: true },
          'logoutUser keepOffline true': { end: () => m.logoutUser('alice', { keepOffline: true }), reason: 'user_logged_out', bsOnly: false },
          'logoutUser keepOffline false': { end: () => m.logoutUser('alice', { keepOffline: false }), reason: 'client_session_revoked', bsOnly: false },
        } as const;
        for (const scope of ['openid', 'openid offline_access']) {
          for (const [name, e] of Object.entries(endings)) {
            const what = `${name}, scope "${scope}"`;
            const bs = await m.startBrowserSession('alice', { validFor: 3600 });
            const sid = await m.createSession({ userId: 'alice', authnEvent: {}, authRequest: authRequest('app', scope), browserSessionId: bs });
            const bound = await m.mintToken(sid, 'authorization_code', { browserSessionId: bs });
            const unbound = await m.mintToken(sid, 'authorization_code');
            // Minted from the grant at the front channel like a code: also a product of the login.
            const directAccess = await m.mintToken(sid, 'access_token', { browserSessionId: bs });
            const earlier = await m.redeemCode((await m.mintToken(sid, 'authorization_code', { browserSessionId: bs })).value, { clientId: 'app' });
            await e.end(bs);
            const dead = e.bsOnly ? [bound, directAccess] : [bound, unbound, directAccess];
            for (const t of dead) {
              assert.equal(await active(m, t.value), false, `${what}: ${t.token.class} still active`);
              assert.equal(t.token.offline, false, `${what}: ${t.token.class} minted offline`);
            }
            for (const code of e.bsOnly ? [bound] : [bound, unbound]) {
              await rejectsWith(m.redeemCode(code.value, { clientId: 'app' }), InactiveToken, (err) => assert.equal(err.reason, e.reason, what));
            }
            // What a code produced keeps the offline policy: offline_access tokens outlive the
            // login unless everything was revoked.
            const survives = scope.includes('offline_access') && name !== 'logoutUser keepOffline false';
            assert.equal(await active(m, earlier.accessToken.value), survives, `${what}: access token from an earlier code`);
            if (earlier.refreshToken) assert.equal(await active(m, earlier.refreshToken.value), survives, `${what}: refresh token from an earlier code`);
            assert.equal(earlier.refreshToken !== undefined, scope.includes('offline_access'));
          }
        }
      });

      it('logoutUser of an unknown user is UnknownSession and writes nothing', async () => {
        await newSession(m, 'alice', 'app');
        const before = canonicalDump(await store.dump());
        await rejectsWith(m.logoutUser('nobody'), UnknownSession);
        assert.deepEqual(canonicalDump(await store.dump()), before);
      });
    });

    describe('browser sessions', () => {
      it('start, list, bind tokens, end: bound tokens die with the browser session', async () => {
        const bs = await m.startBrowserSession('alice', { validFor: 600 });
        const bs2 = await m.startBrowserSession('alice', { validFor: 600 });
        assert.equal(await m.isBrowserSessionLive('alice', bs), true);
        const sessions = await m.listUserSessions('alice');
        assert.deepEqual(sessions.browserSessions.map((b) => b.id).sort(), [bs, bs2].sort());
        const sid = await m.createSession({ userId: 'alice', authnEvent: {}, authRequest: authRequest('app', 'openid'), browserSessionId: bs });
        const at = await m.mintToken(sid, 'access_token', { browserSessionId: bs });
        const at2 = await m.mintToken(sid, 'access_token', { browserSessionId: bs2 });
        assert.equal(await active(m, at.value), true);
        assert.equal(await m.endBrowserSession('alice', bs), true);
        assert.equal(await m.endBrowserSession('alice', bs), false);
        await rejectsWith(m.validateToken(at.value), InactiveToken, (e) => assert.equal(e.reason, 'browser_session_ended'));
        assert.equal(await active(m, at2.value), true);
        assert.equal(await m.isBrowserSessionLive('alice', bs), false);
      });

      it('an expired browser session is not live and its bound tokens are inactive', async () => {
        const bs = await m.startBrowserSession('alice', { validFor: 60 });
        const sid = await newSession(m, 'alice', 'app', 'openid');
        const at = await m.mintToken(sid, 'access_token', { browserSessionId: bs });
        clock.advanceSeconds(61);
        assert.equal(await m.isBrowserSessionLive('alice', bs), false);
        assert.equal(await active(m, at.value), false);
      });

      it('hostile browser session ids are plain data', async () => {
        const before = prototypeSnapshot();
        for (const id of ['__proto__', 'constructor', 'toString']) {
          await m.startBrowserSession('carol', { validFor: 60, id });
          assert.equal(await m.isBrowserSessionLive('carol', id), true);
        }
        assert.equal(await m.isBrowserSessionLive('carol', 'hasOwnProperty'), false);
        assert.equal(await m.endBrowserSession('carol', '__proto__'), true);
        assert.equal(await m.isBrowserSessionLive('carol', '__proto__'), false);
        assert.equal(await m.isBrowserSessionLive('carol', 'constructor'), true);
        assert.deepEqual(prototypeSnapshot(), before);
        assert.equal(({} as Record<string, unknown>).epoch, undefined);
      });
    });

    describe('remove: nothing left behind', () => {
      async function tree() {
        const a1 = await codeFlow(m, 'alice', 'app');
        const a1r = await m.refresh(a1.refresh!, { clientId: 'app' });
        const a2 = await codeFlow(m, 'alice', 'app');
        const a3 = await codeFlow(m, 'alice', 'other');
        const b = await codeFlow(m, 'bob', 'app');
        return { a1, a1r, a2, a3, b };
      }
      const idsOf = (d: TreeDump) => ({
        grants: new Set(d.grants.map((g) => g.id)),
        tokenGrants: new Set([...d.tokens.map((t) => t.grantId), ...d.markers.map((x) => x.grantId)]),
        users: new Set([...d.users.map((u) => u.userId)]),
      });
      function noOrphans(d: TreeDump) {
        const users = new Set(d.users.map((u) => u.userId));
        const clients = new Set(d.clients.map((c) => JSON.stringify([c.userId, c.clientId])));
        const grants = new Set(d.grants.map((g) => JSON.stringify([g.userId, g.clientId, g.id])));
        for (const c of d.clients) assert.ok(users.has(c.userId), `client without user: ${c.clientId}`);
        for (const g of d.grants) assert.ok(clients.has(JSON.stringify([g.userId, g.clientId])), `grant without client: ${g.id}`);
        for (const t of [...d.tokens, ...d.markers]) {
          assert.ok(grants.has(JSON.stringify([t.userId, t.clientId, t.grantId])), `token without grant: ${t.grantId}`);
        }
      }

      it('removing a grant removes its tokens and markers, nothing else', async () => {
        const t = await tree();
        const before = await store.dump();
        await m.removeSession(t.a1.sessionId);
        const after = await store.dump();
        noOrphans(after);
        const gid = m.openSessionId(t.a1.sessionId).grantId!;
        assert.ok(!idsOf(after).grants.has(gid));
        assert.ok(!idsOf(after).tokenGrants.has(gid));
        assert.equal(after.grants.length, before.grants.length - 1);
        for (const v of [t.a1.access, t.a1.code, t.a1r.refreshToken!.value, t.a1.refresh!]) {
          await rejectsWith(m.validateToken(v), UnknownToken);
        }
        await rejectsWith(m.redeemCode(t.a1.code, { clientId: 'app' }), UnknownToken);
        assert.equal(await active(m, t.a2.access), true);
        await rejectsWith(m.removeSession(t.a1.sessionId), UnknownSession);
      });

      it('removing a client session removes all its grants, tokens and markers', async () => {
        const t = await tree();
        await m.removeSession(m.sessionIdOf({ userId: 'alice', clientId: 'app' }));
        const after = await store.dump();
        noOrphans(after);
        assert.deepEqual(after.clients.map((c) => [c.userId, c.clientId]).sort(), [['alice', 'other'], ['bob', 'app']]);
        assert.ok(after.grants.every((g) => !(g.userId === 'alice' && g.clientId === 'app')));
        for (const v of [t.a1.access, t.a2.access, t.a1r.accessToken.value]) await rejectsWith(m.validateToken(v), UnknownToken);
        assert.equal(await active(m, t.a3.access), true);
        assert.equal(await active(m, t.b.access), true);
        await rejectsWith(m.getClientSessionInfo(t.a1.sessionId), UnknownSession);
      });

      it('removing a user removes the whole subtree; other users are intact', async () => {
        const t = await tree();
        await m.startBrowserSession('alice', { validFor: 600 });
        await m.removeSession(m.sessionIdOf({ userId: 'alice' }));
        const after = await store.dump();
        noOrphans(after);
        assert.deepEqual(after.users.map((u) => u.userId), ['bob']);
        assert.ok([...after.clients, ...after.grants, ...after.tokens, ...after.markers].every((r) => r.userId === 'bob'));
        for (const v of [t.a1.access, t.a3.access, t.a1.code]) await rejectsWith(m.validateToken(v), UnknownToken);
        assert.equal(await active(m, t.b.access), true);
        await rejectsWith(m.getUserInfo('alice'), UnknownSession);
        assert.deepEqual(await m.getSidsByUserId('alice'), []);
        // The user can come back as a fresh node.
        const again = await codeFlow(m, 'alice', 'app');
        assert.equal(await active(m, again.access), true);
      });

      it('removing an unknown node is UnknownSession and writes nothing', async () => {
        await tree();
        const before = canonicalDump(await store.dump());
        for (const p of [{ userId: 'zed' }, { userId: 'alice', clientId: 'zed' }, { userId: 'alice', clientId: 'app', grantId: 'zed' }]) {
          await rejectsWith(m.removeSession(m.sessionIdOf(p)), UnknownSession);
        }
        assert.deepEqual(canonicalDump(await store.dump()), before);
      });
    });

    describe('purgeExpired', () => {
      it('is bounded per call and eventually removes every expired record, keeping live ones', async () => {
        const mm = manager({ tokenPolicies: { access_token: { expiresIn: 60 } } });
        const sid = await newSession(mm, 'alice', 'app');
        const dead: string[] = [];
        for (let i = 0; i < 30; i++) dead.push((await mm.mintToken(sid, 'access_token')).value);
        const shortGrant = await mm.createSession({ userId: 'bob', authnEvent: {}, authRequest: authRequest('app'), expiresIn: 30 });
        await mm.mintToken(shortGrant, 'access_token');
        clock.advanceSeconds(120);
        const live = await mm.mintToken(sid, 'access_token');
        const liveLong = await codeFlow(mm, 'carol', 'app');
        let calls = 0;
        let total = 0;
        for (;;) {
          const n = await mm.purgeExpired({ limit: 5 });
          assert.ok(n >= 0 && n <= 5, `purge removed ${n} with limit 5`);
          total += n;
          calls++;
          if (n === 0 && calls > 1) {
            const d = await store.dump();
            const now = clock.now;
            if (d.tokens.every((t) => t.expiresAt > now) && d.grants.every((g) => g.expiresAt > now)) break;
          }
          assert.ok(calls < 200, 'purge does not finish');
        }
        assert.ok(total > 0, 'purge reports what it removed');
        const d = await store.dump();
        assert.ok(d.tokens.every((t) => t.expiresAt > clock.now));
        assert.ok(d.markers.every((x) => x.expiresAt > clock.now));
        assert.ok(d.grants.every((g) => g.userId !== 'bob'), 'the expired grant is gone');
        assert.equal(await active(mm, live.value), true);
        assert.equal(await active(mm, liveLong.access), true);
        for (const v of dead.slice(0, 3)) await rejectsWith(mm.validateToken(v), UnknownToken);
      });

      it('purges markers of consumed codes once the code would have expired; reuse is then an unknown token', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        assert.equal((await store.dump()).markers.length, 1);
        clock.advanceSeconds(301);
        for (let i = 0; i < 20 && (await store.dump()).markers.length > 0; i++) await m.purgeExpired({ limit: 100 });
        assert.equal((await store.dump()).markers.length, 0);
        await rejectsWith(m.redeemCode(f.code, { clientId: 'app' }), UnknownToken);
        assert.equal(await active(m, f.access), true, 'the grant survives: a code past its lifetime is unknown, not reused');
      });

      it('a sweep stopped midway and resumed later judges expiry by the later clock', async () => {
        const mm = manager({ tokenPolicies: { access_token: { expiresIn: 60 } } });
        const sid = await newSession(mm, 'alice', 'app');
        for (let i = 0; i < 40; i++) await mm.mintToken(sid, 'access_token');
        assert.equal(await mm.purgeExpired({ limit: 5 }), 0, 'nothing has expired yet');
        clock.advanceSeconds(61);
        assert.ok((await mm.purgeExpired({ limit: 5 })) > 0, 'the resumed sweep sees the tokens as expired now');
        await purgeAll(mm);
        assert.equal((await store.dump()).tokens.length, 0);
      });

      it('a limit of 1 removes at most one record', async () => {
        const mm = manager({ tokenPolicies: { access_token: { expiresIn: 10 } } });
        const sid = await newSession(mm, 'alice', 'app');
        for (let i = 0; i < 5; i++) await mm.mintToken(sid, 'access_token');
        clock.advanceSeconds(11);
        assert.ok((await mm.purgeExpired({ limit: 1 })) <= 1);
        assert.ok((await store.purgeExpired(clock.now, 1)) <= 1);
      });
    });

    describe('dump / load', () => {
      it('round trip keeps ids, lineage, counters and timestamps; no key material, no token values', async () => {
        const mm = manager({ tokenPolicies: { access_token: { maxUsage: 3 } } });
        const bs = await mm.startBrowserSession('alice', { validFor: 3600, id: 'browser-1' });
        const f = await codeFlow(mm, 'alice', 'app');
        const r1 = await mm.refresh(f.refresh!, { clientId: 'app' });
        clock.advance(10);
        const r2 = await mm.refresh(r1.refreshToken!.value, { clientId: 'app' });
        const revoked = await mm.mintToken(f.sessionId, 'access_token');
        await mm.revokeToken(f.sessionId, revoked.value);
        const bound = await mm.mintToken(f.sessionId, 'access_token', { browserSessionId: bs });
        const pkceSid = await newSession(mm, 'alice', 'app');
        const pkceCode = await mm.mintToken(pkceSid, 'authorization_code', {
          codeBinding: { redirectUri: 'https://app.example/cb', codeChallenge: pkceChallenge(VERIFIER), codeChallengeMethod: 'S256', nonce: 'n-1' },
        });
        const g2 = await codeFlow(mm, 'bob', 'other');
        await mm.logoutUser('bob', { keepOffline: true });
        const dave = await codeFlow(mm, 'dave', 'app');
        await mm.revokeGrant(dave.sessionId);
        const values = [dave.access, f.code, f.access, f.refresh!, r1.accessToken.value, r1.refreshToken!.value, r2.accessToken.value, r2.refreshToken!.value, revoked.value, bound.value, pkceCode.value, g2.access, g2.refresh!, g2.code];

        const dump = await mm.dump();
        const text = JSON.stringify(dump);
        for (const s of SECRET_SPELLINGS) assert.ok(!text.includes(s), 'dump contains key material');
        for (const v of values) assert.ok(!text.includes(v), 'dump contains a token value');
        assert.deepEqual(JSON.parse(text), dump, 'the dump is plain JSON');

        const target = await freshStore();
        const loaded = makeManager(target, clock);
        await loaded.load(JSON.parse(text));
        assert.deepEqual(canonicalDump(await loaded.dump()), canonicalDump(dump));

        // The reloaded tree behaves the same: values still resolve, lineage and markers still work.
        assert.equal(await active(loaded, r2.accessToken.value), true);
        assert.equal(await active(loaded, revoked.value), false);
        assert.equal(await active(loaded, bound.value), true);
        assert.equal(await loaded.isBrowserSessionLive('alice', 'browser-1'), true);
        assert.equal(await active(loaded, g2.access), true, 'offline token survived the keep-offline logout');
        const pkceSet = await loaded.redeemCode(pkceCode.value, {
          clientId: 'app',
          redirectUri: 'https://app.example/cb',
          codeVerifier: VERIFIER,
        });
        assert.equal(await active(loaded, pkceSet.accessToken.value), true);
        clock.advanceSeconds(10);
        await rejectsWith(loaded.refresh(r1.refreshToken!.value, { clientId: 'app' }), TokenReused);
        assert.equal(await active(loaded, r2.refreshToken!.value), false, 'reuse detection survived the reload');
        // And the original manager's store is unaffected by what happened in the copy.
        assert.equal(await active(mm, r2.refreshToken!.value), true);
      });

      it('a dump keeps a used counter below maxUsage', async () => {
        const mm = manager({ tokenPolicies: { refresh_token: { maxUsage: 3 } } });
        const f = await codeFlow(mm, 'alice', 'app');
        await mm.refresh(f.refresh!, { clientId: 'app' });
        const d = await mm.dump();
        const rt = d.tokens.find((t) => t.class === 'refresh_token' && t.used > 0);
        assert.ok(rt, 'a refresh token with a use count is dumped');
        assert.equal(rt.used, 1);
        assert.equal(typeof rt.usedAt, 'number');
        const target = await freshStore();
        const loaded = makeManager(target, clock, { tokenPolicies: { refresh_token: { maxUsage: 3 } } });
        await loaded.load(d);
        assert.equal((await loaded.dump()).tokens.find((t) => t.id === rt.id)?.used, 1);
      });

      it('load rejects malformed data with InvalidInput and writes nothing', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const good = await m.dump();
        const target = await freshStore();
        const loaded = makeManager(target, clock);
        const bad: unknown[] = [
          null,
          'x',
          { ...good, version: 2 },
          { ...good, users: 'nope' },
          { ...good, grants: [{ ...good.grants[0], id: 42 }] },
          { ...good, tokens: [...good.tokens, { ...good.tokens[0], used: 'many' }] },
          JSON.parse(JSON.stringify(good).replace('"users":[', '"users":[{"__proto__":{"polluted":1},"userId":"x"},')),
          // Holes after valid entries: a load that wrote as it went would leave those behind.
          { ...good, tokens: [...good.tokens, , ,] },
          { ...good, users: [...good.users, , ...good.users] },
          { ...good, markers: new Array(2) },
        ];
        for (const b of bad) await rejectsWith(loaded.load(b), InvalidInput);
        assert.deepEqual(dumpCounts(await target.dump()), { users: 0, clients: 0, grants: 0, tokens: 0, markers: 0 });
        assert.equal(({} as Record<string, unknown>).polluted, undefined);
        assert.equal(await active(m, f.access), true);
      });
    });

    describe('SPEC §5 details', () => {
      it('getSessionInfoByToken of a used-up code or rotated-out refresh token: the info, active false, reason used, the marker; validateToken still throws', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        await m.refresh(f.refresh!, { clientId: 'app' });
        for (const [value, cls] of [[f.code, 'authorization_code'], [f.refresh!, 'refresh_token']] as const) {
          const info = await m.getSessionInfoByToken(value, { grant: true });
          assert.equal(info.active, false);
          assert.equal(info.inactiveReason, 'used');
          assert.equal(info.token, undefined);
          assert.equal(info.marker?.class, cls);
          assert.deepEqual([info.userId, info.clientId, info.grant?.id], ['alice', 'app', m.openSessionId(f.sessionId).grantId]);
          assert.deepEqual(m.openSessionId(info.sessionId), m.openSessionId(f.sessionId));
          await rejectsWith(m.validateToken(value), InactiveToken, (e) => assert.equal(e.reason, 'used'));
        }
        const live = await m.getSessionInfoByToken(f.access);
        assert.equal(live.active, true);
        assert.equal(live.token?.id, f.set.accessToken.token.id);
      });

      it('introspection gives token_type Bearer for access tokens only (RFC 7662 §2.2), and can be limited to some classes', async () => {
        const f = await codeFlow(m, 'alice', 'app');
        const at = await m.introspect(f.access);
        assert.ok(at.active);
        assert.equal(at.token_type, 'Bearer');
        const rt = await m.introspect(f.refresh!);
        assert.ok(rt.active);
        assert.equal('token_type' in rt, false, JSON.stringify(rt));
        const code = await m.mintToken(f.sessionId, 'authorization_code');
        assert.equal((await m.introspect(code.value)).active, true);
        const only = { tokenClasses: ['access_token', 'refresh_token'] };
        assert.deepEqual(await m.introspect(code.value, only), { active: false });
        assert.equal((await m.introspect(f.refresh!, only)).active, true);
        assert.equal((await m.introspect(f.access, { ...only, clientId: 'app' })).active, true);
        assert.deepEqual(await m.introspect(f.access, { tokenClasses: ['refresh_token'] }), { active: false });
        await rejectsWith(m.introspect(f.access, { tokenClasses: 'access_token' as never }), InvalidInput);
      });

      it('a code challenge needs its method (RFC 7636 §4.3 would make it plain): InvalidInput, nothing minted', async () => {
        const sid = await newSession(m, 'alice', 'app');
        const before = canonicalDump(await store.dump());
        await rejectsWith(m.mintToken(sid, 'authorization_code', { codeBinding: { codeChallenge: pkceChallenge(VERIFIER) } }), InvalidInput, (e) =>
          assert.match(e.message, /code_challenge_method required/),
        );
        assert.deepEqual(canonicalDump(await store.dump()), before);
        for (const [method, challenge] of [['S256', pkceChallenge(VERIFIER)], ['plain', VERIFIER]] as const) {
          const code = await m.mintToken(sid, 'authorization_code', { codeBinding: { codeChallenge: challenge, codeChallengeMethod: method } });
          const wrong = await m.mintToken(sid, 'authorization_code', { codeBinding: { codeChallenge: challenge, codeChallengeMethod: method } });
          await rejectsWith(m.redeemCode(wrong.value, { clientId: 'app', codeVerifier: method === 'plain' ? pkceChallenge(VERIFIER) : VERIFIER.replace('d', 'e') }), InvalidInput);
          assert.equal((await m.findToken(sid, code.value))?.codeBinding?.codeChallengeMethod, method);
          await m.redeemCode(code.value, { clientId: 'app', codeVerifier: VERIFIER });
        }
      });
    });

    describe('unlinkability across clients (OIDC Core §8)', () => {
      it('token values and JWT ids of one user at two pairwise clients share no prefix beyond chance, and every one resolves', async () => {
        const mm = manager({ jwt: await jwtOptions() });
        const bs = await mm.startBrowserSession('alice', { validFor: 3600 });
        const N = 48;
        const at = (clientId: string, sector: string) => ({ clientId, sector, values: [] as string[], jtis: [] as string[], claims: [] as JWTPayload[] });
        const clients = [at('app', 'app.example'), at('other', 'other.example')];
        for (let i = 0; i < N; i++) {
          for (const c of clients) {
            const sid = await mm.createSession({
              userId: 'alice',
              authnEvent: {},
              authRequest: authRequest(c.clientId),
              subType: 'pairwise',
              sectorIdentifier: c.sector,
              browserSessionId: bs,
            });
            const code = await mm.mintToken(sid, 'authorization_code', { browserSessionId: bs });
            const set = await mm.redeemCode(code.value, { clientId: c.clientId });
            const claims = decodeJwt(set.idToken!.value);
            c.values.push(code.value, set.accessToken.value, set.refreshToken!.value);
            c.jtis.push(claims.jti!);
            c.claims.push(claims);
            for (const v of [set.accessToken.value, set.refreshToken!.value, set.idToken!.value]) assert.equal(await active(mm, v), true, 'a value no longer resolves');
          }
        }
        const prefix = (v: string) => v.slice(0, 3);
        const [a, b] = clients as [(typeof clients)[0], (typeof clients)[0]];
        // 18-bit prefixes: two values of different clients agree with probability 2^-18.
        const same = (x: string[], y: string[]) => x.filter((v, i) => prefix(v) === prefix(y[i]!)).length;
        assert.ok(same(a.values, b.values) <= 1, `${same(a.values, b.values)} of ${a.values.length} value pairs share a prefix`);
        assert.ok(same(a.jtis, b.jtis) <= 1, `${same(a.jtis, b.jtis)} of ${a.jtis.length} jti pairs share a prefix`);
        const all = [...a.values, ...b.values, ...a.jtis, ...b.jtis];
        assert.ok(new Set(all.map(prefix)).size >= all.length - 5, 'prefixes of one user repeat');
        for (let i = 0; i < 3; i++) assert.ok(new Set(all.map((v) => v[i])).size >= 50, `character ${i} of the prefix is nearly constant`);
        // Nothing else in the ID tokens of one login is the same at both clients but what the
        // login itself is (its time and method) and what every token of the issuer has.
        const shared = new Set<string>();
        for (let i = 0; i < N; i++) {
          for (const k of Object.keys(a.claims[i]!)) if (JSON.stringify(a.claims[i]![k]) === JSON.stringify(b.claims[i]![k])) shared.add(k);
        }
        assert.deepEqual([...shared].filter((k) => !['iss', 'iat', 'exp', 'auth_time', 'acr', 'amr'].includes(k)), []);
      });
    });

    describe('hostile ids', () => {
      it('every hostile id round-trips as a user, client and both, listable and distinct', async () => {
        const protoBefore = prototypeSnapshot();
        const sids = new Map<string, string>();
        for (const id of HOSTILE_IDS) {
          sids.set(`u:${id}`, await newSession(m, id, 'app'));
          sids.set(`c:${id}`, await newSession(m, 'host', id));
        }
        for (const id of HOSTILE_IDS) {
          const u = await m.getSessionInfo(sids.get(`u:${id}`)!);
          assert.equal(u.userId, id);
          assert.equal(u.clientId, 'app');
          const c = await m.getSessionInfo(sids.get(`c:${id}`)!);
          assert.equal(c.userId, 'host');
          assert.equal(c.clientId, id);
          assert.equal((await m.getUserInfo(id)).clientIds.length, 1);
          assert.equal((await m.grants({ userId: id })).length, 1);
          assert.equal((await m.grants({ userId: 'host', clientId: id })).length, 1);
        }
        assert.equal((await m.getUserInfo('host')).clientIds.length, HOSTILE_IDS.length);
        const d = await store.dump();
        assert.equal(d.users.length, HOSTILE_IDS.length + 1);
        assert.deepEqual(prototypeSnapshot(), protoBefore);
        assert.equal(({} as Record<string, unknown>).sid, undefined);
        assert.equal(Object.getPrototypeOf({}), Object.prototype);
      });

      it('"a;;b"+"c" and "a"+"b;;c" are distinct; revoking one leaves the other intact (B-01, fault 19)', async () => {
        const x = await codeFlow(m, 'a;;b', 'c');
        const y = await codeFlow(m, 'a', 'b;;c');
        assert.notDeepEqual(m.openSessionId(x.sessionId), m.openSessionId(y.sessionId));
        await m.revokeClientSession(x.sessionId);
        assert.equal(await active(m, x.access), false);
        assert.equal(await active(m, y.access), true);
        assert.equal((await m.getClientSessionInfo(y.sessionId)).revoked, false);
        await m.removeSession(m.sessionIdOf({ userId: 'a;;b' }));
        assert.equal(await active(m, y.access), true);
        assert.deepEqual((await store.dump()).users.map((u) => u.userId), ['a']);
      });

      it('trailing spaces, NUL and Unicode normalisation forms address different nodes (B-03)', async () => {
        const pairs: Array<[string, string]> = [
          ['client', 'client '],
          ['nul', 'nul\u0000'],
          ['\u00e9', 'e\u0301'],
        ];
        for (const [p, q] of pairs) {
          const a = await codeFlow(m, 'dora', p);
          const b = await codeFlow(m, 'dora', q);
          await m.revokeGrant(a.sessionId);
          assert.equal(await active(m, a.access), false);
          assert.equal(await active(m, b.access), true, `${JSON.stringify(q)} was hit by revoking ${JSON.stringify(p)}`);
          assert.equal((await m.getSessionInfo(b.sessionId)).clientId, q);
        }
      });

      it('a 2 kB user id and client id work end to end; one over the maximum is InvalidInput', async () => {
        const long = 'u'.repeat(2048);
        const f = await codeFlow(m, long, 'c'.repeat(2048));
        const v = await m.validateToken(f.access);
        assert.equal(v.userId, long);
        const before = canonicalDump(await store.dump());
        await rejectsWith(newSession(m, 'u'.repeat(5000), 'app'), InvalidInput);
        await rejectsWith(newSession(m, '', 'app'), InvalidInput);
        assert.deepEqual(canonicalDump(await store.dump()), before);
      });
    });
  });
}
