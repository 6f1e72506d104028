/**
 * The behaviours the reference's own tests check (oidcop-behaviours.md §A, A.1–A.9), adapted
 * to our API. Where the reference's expectation is a defect, the test asserts our behaviour and
 * says so in its name ("reference wrong: …").
 */
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import {
  InactiveToken,
  InvalidInput,
  InvalidSessionId,
  MintingNotAllowed,
  TokenReused,
  UnknownSession,
  UnknownToken,
  WrongClient,
} from '../../src/errors.js';
import { computeSub, sectorIdentifierOf } from '../../src/crypto/subject.js';
import { SessionManager } from '../../src/manager/session-manager.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { DEFAULT_USAGE_RULES } from '../../src/tree/usage-rules.js';
import { SECRETS, TestClock, authRequest, codeFlow, jwtOptions, makeManager, newSession, purgeAll, rejectsWith } from '../conformance/harness.js';

const CODE_MINTS = ['access_token', 'refresh_token', 'id_token'];

describe('reference §A: behaviours of the oidcop tests, on our API', () => {
  let clock: TestClock;
  let m: SessionManager;
  beforeEach(() => {
    clock = new TestClock();
    m = makeManager(undefined, clock);
  });
  const active = async (mgr: SessionManager, v: string) => (await mgr.introspect(v)).active;

  describe('A.1 tokens and grants', () => {
    it('A.1 code record basics: issuedAt set, class authorization_code, single use', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      assert.equal(code.token.issuedAt, clock.now);
      assert.equal(code.token.class, 'authorization_code');
      assert.equal(code.token.usageRules.maxUsage, 1);
      assert.equal(code.token.used, 0);
      assert.equal((await m.findToken(sid, code.value))?.id, code.token.id);
      await m.redeemCode(code.value, { clientId: 'client_1' });
      await rejectsWith(m.validateToken(code.value), InactiveToken, (e) => assert.equal(e.reason, 'used'));
    });

    it('A.2 usage limit on a generic token (maxUsage 2), basedOn holds the parent id, revocation works', async () => {
      const mm = makeManager(undefined, clock, { refresh: { rotate: false }, tokenPolicies: { refresh_token: { maxUsage: 2 } }, reusePolicy: { refresh: 'none' } });
      const f = await codeFlow(mm, 'diana', 'client_1');
      assert.equal(f.set.refreshToken!.token.basedOn, f.codeRecord.id, 'basedOn is the parent token id, not its value');
      await mm.refresh(f.refresh!, { clientId: 'client_1' });
      assert.equal(await active(mm, f.refresh!), true, 'not used up after 1 of 2 uses');
      await mm.refresh(f.refresh!, { clientId: 'client_1' });
      await rejectsWith(mm.validateToken(f.refresh!), InactiveToken, (e) => assert.equal(e.reason, 'used'));
      await mm.revokeToken(f.sessionId, f.access);
      await rejectsWith(mm.validateToken(f.access), InactiveToken, (e) => assert.equal(e.reason, 'revoked'));
    });

    it('A.3 explicit scope on mint is kept exactly', async () => {
      const sid = await newSession(m, 'diana', 'client_1', 'openid foo bar baz');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value, scope: ['openid', 'foo', 'bar'] });
      assert.deepEqual(at.token.scope, ['openid', 'foo', 'bar']);
    });

    it('A.4 revoke everything: revokeGrant makes code, access and refresh token inactive', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      await m.revokeGrant(sid);
      for (const v of [code.value, at.value, rt.value]) assert.equal(await active(m, v), false);
    });

    it('A.5 lookup by value returns the same records; the scope survives', async () => {
      const sid = await newSession(m, 'diana', 'client_1', 'openid foo bar');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value, scope: 'openid foo bar' });
      assert.equal((await m.findToken(sid, code.value))?.id, code.token.id);
      const found = await m.findToken(sid, at.value);
      assert.equal(found?.id, at.token.id);
      assert.deepEqual(found?.scope, ['openid', 'foo', 'bar']);
    });

    it('A.6 a used-up code and its children: all inactive (code by use, children by recursive revocation)', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      await m.revokeToken(f.sessionId, f.code, { recursive: true });
      await rejectsWith(m.validateToken(f.code), InactiveToken, (e) => assert.equal(e.reason, 'used'));
      for (const v of [f.access, f.refresh!]) await rejectsWith(m.validateToken(v), InactiveToken, (e) => assert.equal(e.reason, 'revoked'));
    });

    it('A.7 revoking a child leaves the code active; revoking the code (recursive) kills it and its new children', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const at1 = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      await m.revokeToken(sid, at1.value);
      assert.equal(await active(m, code.value), true);
      assert.equal(await active(m, at1.value), false);
      const at2 = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      await m.revokeToken(sid, code.value, { recursive: true });
      assert.equal(await active(m, code.value), false);
      assert.equal(await active(m, at2.value), false);
    });

    it('A.8 grant round trip: dump and load keep two tokens, one of each class', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      await m.mintToken(sid, 'access_token', { basedOn: code.value });
      const copy = makeManager(undefined, clock);
      await copy.load(await m.dump());
      const tokens = (await copy.dump()).tokens;
      assert.deepEqual(tokens.map((t) => t.class).sort(), ['access_token', 'authorization_code']);
    });

    it('A.9 a class the grant has no rules for cannot be minted: MintingNotAllowed, nothing written', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const before = await m.dump();
      await rejectsWith(m.mintToken(sid, 'no_such_class'), MintingNotAllowed);
      assert.deepEqual(await m.dump(), before);
    });

    it('A.10 custom token class: minted with its own rules, survives dump/load, counts per class 1/1/1/0/0', async () => {
      const policies = { my_token: { expiresIn: 60, supportsMinting: [] } };
      const mm = makeManager(undefined, clock, { tokenPolicies: policies });
      const sid = await newSession(mm, 'diana', 'client_1');
      const code = await mm.mintToken(sid, 'authorization_code');
      await mm.mintToken(sid, 'access_token', { basedOn: code.value });
      const mine = await mm.mintToken(sid, 'my_token');
      assert.equal(mine.token.usageRules.expiresIn, 60);
      const copy = makeManager(undefined, clock, { tokenPolicies: policies });
      await copy.load(await mm.dump());
      const count = (cls: string) => copy.dump().then((d) => d.tokens.filter((t) => t.class === cls).length);
      assert.deepEqual(
        await Promise.all(['authorization_code', 'access_token', 'my_token', 'refresh_token', 'id_token'].map(count)),
        [1, 1, 1, 0, 0],
      );
      assert.equal((await copy.validateToken(mine.value, { tokenClass: 'my_token' })).token.id, mine.token.id);
    });

    it('A.11 (reference wrong: a token scope wider than the grant is refused) token scope and claims from the token, resources from the grant', async () => {
      const sid = await m.createSession({
        userId: 'diana',
        authnEvent: {},
        authRequest: authRequest('client_1', 'openid email address'),
        claims: { userinfo: { email: { essential: true } } },
        resources: ['https://api.example.com'],
      });
      await rejectsWith(m.mintToken(sid, 'access_token', { scope: ['openid', 'email', 'eduperson'] }), MintingNotAllowed);
      const at = await m.mintToken(sid, 'access_token', { scope: ['openid', 'email'], claims: { email: null } });
      const v = await m.validateToken(at.value);
      assert.deepEqual(v.scope, ['openid', 'email']);
      assert.deepEqual(v.token.claims, { email: null });
      assert.deepEqual(v.grant.resources, ['https://api.example.com']);
      assert.deepEqual(v.grant.claims, { userinfo: { email: { essential: true } } });
      const intro = await m.introspect(at.value);
      assert.ok(intro.active);
      assert.deepEqual(intro.aud, ['https://api.example.com']);
      assert.equal(intro.scope, 'openid email');
    });

    it('A.12 (reference: access tokens without rules never expire, B-33) default access-token rules: 3600 s, mints nothing', async () => {
      assert.deepEqual({ ...DEFAULT_USAGE_RULES.access_token, supportsMinting: [...DEFAULT_USAGE_RULES.access_token!.supportsMinting] }, {
        expiresIn: 3600,
        supportsMinting: [],
      });
      const sid = await newSession(m, 'diana', 'client_1');
      const at = await m.mintToken(sid, 'access_token');
      assert.equal(at.token.expiresAt - at.token.issuedAt, 3600_000);
    });

    it('A.13 scope is inherited from the parent token', async () => {
      const sid = await newSession(m, 'diana', 'client_1', 'openid email profile');
      const code = await m.mintToken(sid, 'authorization_code', { scope: ['openid', 'email'] });
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      assert.deepEqual(at.token.scope, ['openid', 'email']);
    });

    it('A.14 (reference wrong: a refresh token could be given scope xyz) scope inheritance through a chain, narrowing only', async () => {
      const sid = await newSession(m, 'diana', 'client_1', 'openid email profile');
      const code = await m.mintToken(sid, 'authorization_code', { scope: ['openid', 'email'] });
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      const at = await m.mintToken(sid, 'access_token', { basedOn: rt.value });
      assert.deepEqual(at.token.scope, ['openid', 'email']);
      await rejectsWith(m.mintToken(sid, 'refresh_token', { basedOn: code.value, scope: ['openid', 'xyz'] }), MintingNotAllowed);
      const rt2 = await m.mintToken(sid, 'refresh_token', { basedOn: code.value, scope: ['openid'] });
      const at2 = await m.mintToken(sid, 'access_token', { basedOn: rt2.value });
      assert.deepEqual(at2.token.scope, ['openid']);
    });

    it('A.15/A.16 (idpy remove_inactive_token) revoked children stay as inactive records until their expiry, then are purged', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      await m.revokeToken(sid, rt.value);
      await rejectsWith(m.validateToken(rt.value), InactiveToken, (e) => assert.equal(e.reason, 'revoked'));
      assert.equal(await active(m, at.value), true, 'revoking one child leaves its sibling');
      await m.revokeToken(sid, at.value);
      assert.equal(await active(m, code.value), true, 'only the code is left active');
      assert.equal((await m.dump()).tokens.length, 3, 'records are kept for introspection answers until they expire');
      clock.advanceSeconds(3601);
      await purgeAll(m);
      assert.ok((await m.dump()).tokens.every((t) => t.id === rt.token.id), 'only the unexpired refresh token is left');
    });
  });

  describe('A.2 node records', () => {
    it('A.17 child lists: clients under a user, grants under a client; removal and revocation', async () => {
      const s1 = await newSession(m, 'diana', 'client_1');
      const s2 = await newSession(m, 'diana', 'client_1');
      assert.equal((await m.grants(s1)).length, 2);
      await m.removeSession(s1);
      assert.deepEqual((await m.grants(s2)).map((g) => g.id), [m.openSessionId(s2).grantId]);
      assert.equal((await m.getClientSessionInfo(s2)).revoked, false);
      await m.revokeClientSession(s2);
      assert.equal((await m.getClientSessionInfo(s2)).revoked, true);
    });

    it('A.18 a user node has no clients by default', async () => {
      await m.startBrowserSession('diana', { validFor: 60 });
      assert.deepEqual((await m.getUserInfo('diana')).clientIds, []);
    });

    it('A.19/A.20/A.21 user and client nodes round-trip through dump/load with their ids and child lists', async () => {
      await newSession(m, 'uid', 'clientID');
      const copy = makeManager(undefined, clock);
      await copy.load(await m.dump());
      const u = await copy.getUserInfo('uid');
      assert.equal(u.user.userId, 'uid');
      assert.deepEqual(u.clientIds, ['clientID']);
      const c = await copy.getClientSessionInfo(copy.sessionIdOf({ userId: 'uid', clientId: 'clientID' }));
      assert.equal(c.clientId, 'clientID');
    });
  });

  describe('A.3 token records', () => {
    it('A.22 code defaults: maxUsage 1, mints access, refresh and ID tokens', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      assert.equal(code.token.usageRules.maxUsage, 1);
      assert.deepEqual([...code.token.usageRules.supportsMinting], CODE_MINTS);
    });

    it('A.23 code with explicit rules keeps them as given', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code', { usageRules: { supportsMinting: ['access_token'], maxUsage: 1 } });
      assert.deepEqual([...code.token.usageRules.supportsMinting], ['access_token']);
      assert.equal(code.token.usageRules.maxUsage, 1);
    });

    it('A.24 scope, claims and resources given at mint are stored', async () => {
      const sid = await newSession(m, 'diana', 'client_1', 'openid email');
      const at = await m.mintToken(sid, 'access_token', { scope: 'email', claims: { email: null }, resources: ['https://rs.example'] });
      const found = await m.findToken(sid, at.value);
      assert.deepEqual(found?.scope, ['email']);
      assert.deepEqual(found?.claims, { email: null });
      assert.deepEqual(found?.resources, ['https://rs.example']);
    });

    it('A.25 record round trip: code, access token and ID token are field-for-field equal after dump/load', async () => {
      const jwt = await jwtOptions();
      const mm = makeManager(undefined, clock, { jwt });
      const sid = await newSession(mm, 'diana', 'client_1');
      const code = await mm.mintToken(sid, 'authorization_code', { claims: { a: 1 } });
      const at = await mm.mintToken(sid, 'access_token', { basedOn: code.value, resources: ['https://rs'] });
      const id = await mm.mintToken(sid, 'id_token', { basedOn: code.value });
      const copy = makeManager(undefined, clock, { jwt });
      await copy.load(await mm.dump());
      for (const t of [code, at]) assert.deepEqual(await copy.findToken(sid, t.value), t.token);
      // ID tokens are JWTs without a route prefix: compared through the dump, not looked up by value.
      assert.deepEqual((await copy.dump()).tokens.find((t) => t.id === id.token.id), id.token);
    });

    it('A.26 minting permissions: a code mints access and refresh tokens but not another code', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      await m.mintToken(sid, 'access_token', { basedOn: code.value });
      await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      await rejectsWith(m.mintToken(sid, 'authorization_code', { basedOn: code.value }), MintingNotAllowed);
    });

    it('A.27 (reference wrong: uses beyond maxUsage were counted on) a third use of a maxUsage-2 token is refused as reuse', async () => {
      const mm = makeManager(undefined, clock, { refresh: { rotate: false }, tokenPolicies: { refresh_token: { maxUsage: 2 } }, reusePolicy: { refresh: 'none' } });
      const f = await codeFlow(mm, 'diana', 'client_1');
      await mm.refresh(f.refresh!, { clientId: 'client_1' });
      assert.equal((await mm.findToken(f.sessionId, f.refresh!))?.used, 1);
      await mm.refresh(f.refresh!, { clientId: 'client_1' });
      clock.advanceSeconds(10);
      await rejectsWith(mm.refresh(f.refresh!, { clientId: 'client_1' }), TokenReused);
    });

    it('A.28 inactivity causes: used up, revoked, expired', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      await rejectsWith(m.validateToken(f.code), InactiveToken, (e) => assert.equal(e.reason, 'used'));
      const at = await m.mintToken(f.sessionId, 'access_token', { usageRules: { expiresIn: 60 } });
      await m.revokeToken(f.sessionId, f.access);
      await rejectsWith(m.validateToken(f.access), InactiveToken, (e) => assert.equal(e.reason, 'revoked'));
      clock.advanceSeconds(61);
      await rejectsWith(m.validateToken(at.value), InactiveToken, (e) => assert.equal(e.reason, 'expired'));
    });
  });

  describe('A.4 session manager', () => {
    it('A.29 (reference exposed its key and salt) configured secrets give stable ids across managers and are not readable', async () => {
      const a = makeManager(undefined, clock);
      const sid = await newSession(a, 'diana', 'client_1');
      const b = new SessionManager({ secrets: SECRETS, store: a.store, clock: clock.read });
      assert.deepEqual(b.openSessionId(sid), a.openSessionId(sid));
      assert.equal((await b.getSessionInfo(sid, { grant: true })).grant!.sub, (await a.getSessionInfo(sid, { grant: true })).grant!.sub);
      const text = JSON.stringify(a) + Object.keys(a).join();
      assert.ok(!text.includes(SECRETS.subjectSalt.toString('base64url')));
    });

    for (const subType of ['pairwise', 'public', 'ephemeral'] as const) {
      it(`A.30 subject type ${subType} across three clients`, async () => {
        const subs: string[] = [];
        const requests: unknown[] = [];
        for (const [i, client] of ['client_1', 'client_2', 'client_3'].entries()) {
          const sid = await m.createSession({
            userId: 'diana',
            authnEvent: {},
            authRequest: { ...authRequest(client), state: `s${i}` },
            subType,
            ...(subType === 'pairwise' && { sectorIdentifier: 'all.example.com' }),
          });
          const info = await m.getSessionInfo(sid, { grant: true, authRequest: true });
          subs.push(info.grant!.sub);
          requests.push(info.authRequest);
          if (i === 0) {
            assert.deepEqual((await m.getUserInfo('diana')).clientIds, ['client_1']);
            assert.equal((await m.grants(sid)).length, 1);
          }
          if (i === 1) assert.deepEqual([...(await m.getUserInfo('diana')).clientIds].sort(), ['client_1', 'client_2']);
        }
        if (subType === 'ephemeral') assert.equal(new Set(subs).size, 3);
        else assert.equal(new Set(subs).size, 1);
        assert.equal(new Set(requests.map((r) => JSON.stringify(r))).size, 3);
      });
    }

    it('A.31 code usage lifecycle: tokens counted, used code cannot mint, revoking the code cuts its children', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      assert.equal((await m.dump()).tokens.length, 0);
      assert.equal((await m.listUserSessions('diana')).clients[0]!.grants[0]!.active, true);
      const code = await m.mintToken(sid, 'authorization_code');
      assert.equal(await active(m, code.value), true);
      assert.deepEqual([...code.token.usageRules.supportsMinting], CODE_MINTS);
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      assert.equal((await m.dump()).tokens.length, 2);
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      assert.equal((await m.dump()).tokens.length, 3);
      await m.redeemCode(code.value, { clientId: 'client_1' });
      await rejectsWith(m.mintToken(sid, 'access_token', { basedOn: code.value }), MintingNotAllowed);
      await m.revokeToken(sid, code.value, { recursive: true });
      assert.equal(await active(m, at.value), false);
      assert.equal(await active(m, rt.value), false);
    });

    it('A.32 scopes given at creation are the grant scope', async () => {
      const sid = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_1'), scopes: ['openid', 'phoe'] });
      assert.deepEqual((await m.getSessionInfo(sid, { grant: true })).grant!.scope, ['openid', 'phoe']);
      assert.deepEqual((await m.grants({ userId: 'diana', clientId: 'client_1' }))[0]!.scope, ['openid', 'phoe']);
    });

    it('A.33 token lookup with a freshly sealed session id for the same path (equality by content)', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      const fresh = m.sessionIdOf(m.openSessionId(sid));
      assert.notEqual(fresh, sid);
      const found = await m.findToken(fresh, at.value);
      assert.equal(found?.id, at.token.id);
      assert.equal(found?.class, 'access_token');
    });

    it('A.34 authentication event lookup; session created without clientId (taken from the request)', async () => {
      const sid = await m.createSession({ userId: 'uid', authnEvent: { authnInfo: 'authn_class_ref', validFor: 1 }, authRequest: authRequest('client_1') });
      const info = await m.getSessionInfo(sid, { authnEvent: true, authRequest: true });
      assert.equal(info.clientId, 'client_1');
      assert.equal(info.authnEvent?.userId, 'uid');
      assert.equal(info.authnEvent?.authnInfo, 'authn_class_ref');
      assert.equal(info.authRequest?.client_id, 'client_1');
      assert.deepEqual(await m.getAuthenticationEvent(sid), info.authnEvent);
    });

    it('A.35 client node lookup', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const c = await m.getClientSessionInfo(sid);
      assert.deepEqual({ userId: c.userId, clientId: c.clientId, revoked: c.revoked }, { userId: 'diana', clientId: 'client_1', revoked: false });
    });

    it('A.36 session info without flags has exactly sessionId, userId, clientId, grantId', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const info = await m.getSessionInfo(sid);
      assert.deepEqual(Object.keys(info).sort(), ['clientId', 'grantId', 'sessionId', 'userId']);
      assert.equal(info.userId, 'diana');
      assert.equal(info.clientId, 'client_1');
      assert.deepEqual(m.openSessionId(info.sessionId), m.openSessionId(sid));
    });

    it('A.37 session info from a token: same ids, plus the token and whether it is active', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const info = await m.getSessionInfoByToken(code.value);
      assert.deepEqual([info.userId, info.clientId, info.grantId], ['diana', 'client_1', m.openSessionId(sid).grantId]);
      assert.equal(info.token?.id, code.token.id);
      assert.equal(info.active, true);
    });

    it('A.38 (reference: access/refresh tokens without rules never expire, B-33) default rules when the grant has none', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      assert.deepEqual(JSON.parse(JSON.stringify(code.token.usageRules)), { expiresIn: 300, maxUsage: 1, supportsMinting: CODE_MINTS });
      assert.deepEqual(JSON.parse(JSON.stringify(at.token.usageRules)), { expiresIn: 3600, supportsMinting: [] });
      assert.deepEqual(JSON.parse(JSON.stringify(rt.token.usageRules)), { expiresIn: 14 * 86400, maxUsage: 1, supportsMinting: CODE_MINTS });
    });

    it('A.39 grant rules are used: minted tokens carry exactly the grant rule of their class', async () => {
      const tokenUsageRules = {
        authorization_code: { expiresIn: 300, maxUsage: 1, supportsMinting: ['access_token', 'refresh_token'] },
        access_token: { expiresIn: 3600, supportsMinting: [] },
        refresh_token: { expiresIn: 86400, supportsMinting: ['access_token', 'refresh_token', 'id_token'] },
      };
      const sid = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_1'), tokenUsageRules });
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      assert.deepEqual(JSON.parse(JSON.stringify(code.token.usageRules)), tokenUsageRules.authorization_code);
      assert.deepEqual(JSON.parse(JSON.stringify(at.token.usageRules)), tokenUsageRules.access_token);
      assert.equal(rt.token.usageRules.expiresIn, 86400);
      assert.deepEqual([...rt.token.usageRules.supportsMinting], tokenUsageRules.refresh_token.supportsMinting);
    });

    const policy = {
      authorization_code: { supportsMinting: ['access_token'], maxUsage: 1, expiresIn: 120 },
      access_token: { expiresIn: 600 },
    };

    it('A.40 policy rules apply; a refresh token from a code that may not mint one is MintingNotAllowed', async () => {
      const mm = makeManager(undefined, clock, { tokenPolicies: policy });
      const sid = await newSession(mm, 'diana', 'client_1');
      const code = await mm.mintToken(sid, 'authorization_code');
      const at = await mm.mintToken(sid, 'access_token', { basedOn: code.value });
      assert.deepEqual(JSON.parse(JSON.stringify(code.token.usageRules)), { expiresIn: 120, maxUsage: 1, supportsMinting: ['access_token'] });
      assert.deepEqual(JSON.parse(JSON.stringify(at.token.usageRules)), { expiresIn: 600, supportsMinting: [] });
      await rejectsWith(mm.mintToken(sid, 'refresh_token', { basedOn: code.value }), MintingNotAllowed);
    });

    it('A.41 policy merged with per-client rules; a client without them cannot mint refresh tokens', async () => {
      const mm = makeManager(undefined, clock, { tokenPolicies: { ...policy, refresh_token: {} } });
      const clientRules = {
        authorization_code: { expiresIn: 600, supportsMinting: ['access_token', 'refresh_token'] },
        refresh_token: { supportsMinting: ['access_token'] },
      };
      const sid = await mm.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_1'), tokenUsageRules: clientRules });
      const code = await mm.mintToken(sid, 'authorization_code');
      const at = await mm.mintToken(sid, 'access_token', { basedOn: code.value });
      const rt = await mm.mintToken(sid, 'refresh_token', { basedOn: code.value });
      assert.deepEqual(JSON.parse(JSON.stringify(code.token.usageRules)), { expiresIn: 600, maxUsage: 1, supportsMinting: ['access_token', 'refresh_token'] });
      assert.deepEqual(JSON.parse(JSON.stringify(at.token.usageRules)), { expiresIn: 600, supportsMinting: [] });
      assert.deepEqual([...rt.token.usageRules.supportsMinting], ['access_token']);
      const sid2 = await newSession(mm, 'diana', 'client_2');
      const code2 = await mm.mintToken(sid2, 'authorization_code');
      await rejectsWith(mm.mintToken(sid2, 'refresh_token', { basedOn: code2.value }), MintingNotAllowed);
      assert.equal(await mm.revokeToken(sid, code.value, { recursive: true }), 3);
    });

    it('A.42 (reference wrong: listing by user only crashed) authentication events by session id, by (user, client) and by user', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      assert.equal((await m.getAuthenticationEvent(sid)).userId, 'diana');
      assert.equal((await m.grants({ userId: 'diana', clientId: 'client_1' }))[0]!.authnEvent.userId, 'diana');
      assert.equal((await m.grants({ userId: 'diana' })).map((g) => g.authnEvent).length, 1);
    });

    it('A.43 user node lookup', async () => {
      await newSession(m, 'diana', 'client_1');
      assert.equal((await m.getUserInfo('diana')).user.userId, 'diana');
    });

    it('A.44 (reference asserted nothing, C-1) revokeClientSession and revokeGrant make the tokens inactive', async () => {
      const a = await codeFlow(m, 'diana', 'client_1');
      const b = await codeFlow(m, 'diana', 'client_2');
      await m.revokeClientSession(a.sessionId);
      await m.revokeGrant(b.sessionId);
      for (const v of [a.access, a.refresh!, b.access, b.refresh!]) assert.equal(await active(m, v), false);
    });

    it('A.45 dependent revocation: revoking the access token leaves the code', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value });
      assert.equal(await m.revokeToken(sid, at.value), 1);
      assert.equal(await active(m, code.value), true);
    });

    it('A.46 (reference wrong: grants(user) crashed, add_grant listed twice) grants listing and addGrant', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const added = await m.addGrant('diana', 'client_1', { scope: ['x'], authRequest: authRequest('client_1') });
      const list = await m.grants(sid);
      assert.equal(list.length, 2);
      assert.equal(new Set(list.map((g) => g.id)).size, 2);
      assert.deepEqual((await m.grants({ userId: 'diana', clientId: 'client_1' })).map((g) => g.id), list.map((g) => g.id));
      assert.equal((await m.grants({ userId: 'diana' })).length, 2);
      assert.deepEqual((await m.getSessionInfo(added, { grant: true })).grant!.scope, ['x']);
    });

    it('A.47 ID tokens minted in one browser session carry the same sid claim (per client), whatever their parent', async () => {
      const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
      const bs = await mm.startBrowserSession('diana', { validFor: 3600 });
      const sid = await mm.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_1'), browserSessionId: bs });
      const code = await mm.mintToken(sid, 'authorization_code', { browserSessionId: bs });
      const id1 = await mm.mintToken(sid, 'id_token', { browserSessionId: bs });
      const rt = await mm.mintToken(sid, 'refresh_token', { basedOn: code.value });
      const id2 = await mm.mintToken(sid, 'id_token', { basedOn: code.value });
      const id3 = await mm.mintToken(sid, 'id_token', { basedOn: rt.value });
      const sids = [id1, id2, id3].map((t) => decodeJwt(t.value).sid);
      assert.deepEqual(sids, [mm.sidFor(bs, 'client_1'), mm.sidFor(bs, 'client_1'), mm.sidFor(bs, 'client_1')]);
      assert.notEqual(mm.sidFor(bs, 'client_2'), sids[0]);
    });
  });

  describe('A.5 subject identifiers', () => {
    it('A.48 pairwise/public are deterministic under a salt; sector from the registration; bad config is InvalidInput', () => {
      const salt = Buffer.alloc(32, 1);
      assert.equal(computeSub(salt, 'pairwise', 'diana', 'a.example'), computeSub(salt, 'pairwise', 'diana', 'a.example'));
      assert.notEqual(computeSub(salt, 'pairwise', 'diana', 'a.example'), computeSub(salt, 'pairwise', 'diana', 'b.example'));
      assert.equal(computeSub(salt, 'public', 'diana'), computeSub(salt, 'public', 'diana'));
      assert.throws(() => computeSub(salt, 'pairwise', 'diana'), InvalidInput);
      assert.equal(sectorIdentifierOf({ sector_identifier_uri: 'https://sector.example/x.json', redirect_uris: ['https://rp.example/cb'] }), 'sector.example');
      assert.equal(sectorIdentifierOf({ redirect_uris: ['https://rp.example/cb'] }), 'rp.example');
      assert.throws(() => sectorIdentifierOf({ redirect_uris: ['not a url'] }), InvalidInput);
      assert.throws(() => sectorIdentifierOf({}), InvalidInput);
      const warnings: string[] = [];
      new SessionManager({ logger: { warn: (w) => warnings.push(w) } });
      assert.equal(warnings.length, 1, 'no configured secrets → one loud warning');
      assert.throws(() => new SessionManager({ secrets: { sessionIdKeys: [{ kid: 'k', key: Buffer.alloc(32) }], subjectSalt: 'password' } }), InvalidInput);
    });
  });

  describe('A.6 session life', () => {
    it('A.49 manual code flow: addGrant, code, tokens from it, use the code, mint from the refresh token', async () => {
      const sid = await m.addGrant('diana', 'client_1', { scope: 'openid offline_access', authRequest: authRequest('client_1') });
      const code = await m.mintToken(sid, 'authorization_code', { usageRules: { expiresIn: 300 } });
      const info = await m.getSessionInfoByToken(code.value);
      assert.deepEqual(m.openSessionId(info.sessionId), m.openSessionId(sid));
      const found = await m.findToken(info.sessionId, code.value);
      assert.equal(found?.class, 'authorization_code');
      assert.ok(found?.usageRules.supportsMinting.includes('access_token'));
      const at = await m.mintToken(sid, 'access_token', { basedOn: code.value, usageRules: { expiresIn: 900 } });
      const rt = await m.mintToken(sid, 'refresh_token', { basedOn: code.value });
      assert.equal(at.token.expiresAt - at.token.issuedAt, 900_000);
      await m.redeemCode(code.value, { clientId: 'client_1' });
      await rejectsWith(m.validateToken(code.value), InactiveToken, (e) => assert.equal(e.reason, 'used'));
      const foundRt = await m.findToken(sid, rt.value);
      assert.ok(foundRt?.usageRules.supportsMinting.includes('access_token'));
      const at2 = await m.mintToken(sid, 'access_token', { basedOn: rt.value });
      assert.equal(await active(m, at2.value), true);
    });

    it('A.50 (JWT access tokens not offered: opaque values) re-sealing a session id from (user, request client, grant) reaches the same active grant', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      const path = m.openSessionId((await m.getSessionInfoByToken(f.access)).sessionId);
      const req = (await m.getSessionInfo(f.sessionId, { authRequest: true })).authRequest!;
      const resealed = m.sessionIdOf({ userId: path.userId, clientId: req.client_id as string, grantId: path.grantId! });
      assert.equal((await m.getClientSessionInfo(resealed)).clientId, 'client_1');
      assert.equal((await m.listUserSessions('diana')).clients[0]!.grants[0]!.active, true);
      const at = await m.mintToken(resealed, 'access_token');
      assert.equal((await m.validateToken(at.value)).grantId, path.grantId);
    });
  });

  describe('A.7 logout (manager level)', () => {
    async function loggedIn(mm: SessionManager, clients: string[]) {
      const bs = await mm.startBrowserSession('diana', { validFor: 3600 });
      const sids: string[] = [];
      for (const c of clients) {
        sids.push(await mm.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest(c, 'openid'), browserSessionId: bs }));
      }
      return { bs, sids };
    }

    it('A.51 logging out nobody is a typed error: unknown user → UnknownSession, garbage session id → InvalidSessionId', async () => {
      await rejectsWith(m.logoutUser('nobody'), UnknownSession);
      await rejectsWith(m.removeSession('not-a-session-id'), InvalidSessionId);
    });

    it('A.52/A.54 logout notices carry the per-(browser session, client) sid of each logged-in client', async () => {
      const { bs } = await loggedIn(m, ['client_1', 'client_2']);
      const notices = await m.logoutUser('diana');
      const byClient = new Map(notices.map((n) => [n.clientId, n]));
      assert.equal(byClient.get('client_1')?.sid, m.sidFor(bs, 'client_1'));
      assert.equal(byClient.get('client_2')?.sid, m.sidFor(bs, 'client_2'));
      assert.notEqual(byClient.get('client_1')?.sid, byClient.get('client_2')?.sid);
    });

    it('A.53 (reference: error came from decryption, C-6) a plain "uid;;client" key is an InvalidSessionId, not an unknown client', async () => {
      await newSession(m, 'diana', 'client_1');
      for (const plain of ['diana;;client_66', 'diana;;client_1', Buffer.from('diana;;client_1').toString('base64url')]) {
        await rejectsWith(m.getClientSessionInfo(plain), InvalidSessionId);
        await rejectsWith(m.revokeClientSession(plain), InvalidSessionId);
      }
    });

    it('A.55/A.57/A.60/A.62 (endpoint level: redirect URIs, iframes, HTTP delivery, cookies) the manager supplies only client, sub and sid', async () => {
      await loggedIn(m, ['client_1']);
      const notices = await m.logoutUser('diana');
      assert.equal(notices.length, 1);
      assert.deepEqual(Object.keys(notices[0]!).sort(), ['clientId', 'sid', 'sub']);
    });

    it('A.56 (reference notified only clients with an ID token and a URI, B-50) every client with a live grant gets a notice', async () => {
      const sid1 = await newSession(m, 'diana', 'client_1');
      await m.mintToken(sid1, 'access_token');
      await newSession(m, 'diana', 'client_2');
      const notices = await m.logoutUser('diana');
      assert.deepEqual(notices.map((n) => n.clientId).sort(), ['client_1', 'client_2']);
      assert.ok(notices.every((n) => typeof n.sub === 'string' && n.sub.length > 0));
    });

    it('A.58 logging out from one client revokes that client session only', async () => {
      const { sids } = await loggedIn(m, ['client_1', 'client_2']);
      await m.revokeClientSession(sids[0]!);
      assert.equal((await m.getClientSessionInfo(sids[0]!)).revoked, true);
      assert.equal((await m.getClientSessionInfo(sids[1]!)).revoked, false);
    });

    it('A.59 logging out everywhere revokes every client node (checked through 2-part session ids)', async () => {
      await loggedIn(m, ['client_1', 'client_2']);
      const notices = await m.logoutUser('diana');
      assert.equal(notices.length, 2);
      for (const c of ['client_1', 'client_2']) {
        assert.equal((await m.getClientSessionInfo(m.sessionIdOf({ userId: 'diana', clientId: c }))).revoked, true);
      }
    });

    it('A.61 (reference: KeyError / ValueError) unknown user → UnknownSession; a removed client gets no notice', async () => {
      await rejectsWith(m.logoutUser('babs'), UnknownSession);
      await loggedIn(m, ['client_1', 'client_2']);
      await m.removeSession(m.sessionIdOf({ userId: 'diana', clientId: 'client_1' }));
      assert.deepEqual((await m.logoutUser('diana')).map((n) => n.clientId), ['client_2']);
    });
  });

  describe('A.8 token endpoint (manager level)', () => {
    it('A.63 the authorization request is stored with all its keys (a deep copy)', async () => {
      const req = { ...authRequest('client_1'), nonce: 'n', claims: { userinfo: { email: null } }, extra: ['a', 'b'] };
      const sid = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: req });
      req.extra.push('mutated');
      const stored = (await m.getSessionInfo(sid, { authRequest: true })).authRequest!;
      assert.deepEqual(stored, { ...authRequest('client_1'), nonce: 'n', claims: { userinfo: { email: null } }, extra: ['a', 'b'] });
    });

    it('A.64 code exchange returns access token, refresh token, expiresIn, scope and the session', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      assert.ok(f.set.accessToken.value && f.set.refreshToken?.value);
      assert.equal(f.set.expiresIn, 3600);
      assert.deepEqual(f.set.scope, ['openid', 'offline_access']);
      assert.equal(f.set.session.userId, 'diana');
    });

    it('A.65 code replay is refused (TokenReused)', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      await rejectsWith(m.redeemCode(f.code, { clientId: 'client_1' }), TokenReused);
    });

    it('A.66 (client authentication is the endpoint\'s job) the manager binds codes and refresh tokens to their client', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      await rejectsWith(m.refresh(f.refresh!, { clientId: 'client_2' }), WrongClient);
      await rejectsWith(m.validateToken(f.access, { clientId: 'client_2' }), WrongClient);
    });

    it('A.67 refresh with openid offline_access returns access, refresh and ID token, expiresIn and scope', async () => {
      const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
      const f = await codeFlow(mm, 'diana', 'client_1');
      assert.ok(f.set.idToken, 'the code exchange issued an ID token');
      const r = await mm.refresh(f.refresh!, { clientId: 'client_1' });
      assert.ok(r.accessToken.value && r.refreshToken?.value && r.idToken?.value);
      assert.equal(r.expiresIn, 3600);
      assert.deepEqual(r.scope, ['openid', 'offline_access']);
      const claims = decodeJwt(r.idToken!.value);
      assert.equal(claims.aud, 'client_1');
      assert.equal(claims.iss, 'https://op.example');
    });

    it('A.68 (C-7: the reference resent the first token) without rotation the same refresh token works twice', async () => {
      const mm = makeManager(undefined, clock, { refresh: { rotate: false } });
      const f = await codeFlow(mm, 'diana', 'client_1');
      const r1 = await mm.refresh(f.refresh!, { clientId: 'client_1' });
      const r2 = await mm.refresh(f.refresh!, { clientId: 'client_1' });
      assert.equal(r1.refreshToken, undefined);
      assert.notEqual(r1.accessToken.value, r2.accessToken.value);
    });

    it('A.69/A.72 refresh with a narrower scope: tokens and response carry exactly the requested scope', async () => {
      const f = await codeFlow(m, 'diana', 'client_1', 'openid offline_access profile email');
      const r = await m.refresh(f.refresh!, { clientId: 'client_1', scope: 'openid offline_access' });
      assert.deepEqual(r.scope, ['openid', 'offline_access']);
      assert.deepEqual(r.accessToken.token.scope, ['openid', 'offline_access']);
    });

    it('A.70 refresh asking for more scope than granted: MintingNotAllowed, nothing written', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      const before = await m.dump();
      await rejectsWith(m.refresh(f.refresh!, { clientId: 'client_1', scope: 'openid offline_access admin' }), MintingNotAllowed);
      assert.deepEqual(await m.dump(), before);
      assert.equal(await active(m, f.refresh!), true);
    });

    it('A.71 narrow once, then ask again for the original scope with the new refresh token: allowed', async () => {
      const f = await codeFlow(m, 'diana', 'client_1', 'openid offline_access profile');
      const r1 = await m.refresh(f.refresh!, { clientId: 'client_1', scope: 'openid offline_access' });
      const r2 = await m.refresh(r1.refreshToken!.value, { clientId: 'client_1', scope: 'openid offline_access profile' });
      assert.deepEqual(r2.scope, ['openid', 'offline_access', 'profile']);
    });

    it('A.73 (reference: no offline_access → no new refresh token; ours: rotation always hands over the successor) no openid → no ID token', async () => {
      const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
      const f = await codeFlow(mm, 'diana', 'client_1');
      const r = await mm.refresh(f.refresh!, { clientId: 'client_1', scope: 'offline_access' });
      assert.equal(r.idToken, undefined);
      const r2 = await mm.refresh(r.refreshToken!.value, { clientId: 'client_1', scope: 'openid' });
      assert.ok(r2.idToken);
      assert.ok(r2.refreshToken, 'the successor is returned; the presented token is used up');
    });

    it('A.74/A.75 each refresh issues a new, different refresh token; the presented one is revoked by use', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      const seen = new Set([f.refresh!]);
      let rt = f.refresh!;
      for (let i = 0; i < 3; i++) {
        const r = await m.refresh(rt, { clientId: 'client_1' });
        assert.ok(!seen.has(r.refreshToken!.value));
        seen.add(r.refreshToken!.value);
        assert.equal(await active(m, rt), false);
        rt = r.refreshToken!.value;
      }
    });

    it('A.76 (reference: uncaught exception) a refresh token that may mint nothing: MintingNotAllowed, nothing written', async () => {
      const mm = makeManager(undefined, clock, { tokenPolicies: { refresh_token: { supportsMinting: [] } } });
      const f = await codeFlow(mm, 'diana', 'client_1');
      const before = await mm.dump();
      await rejectsWith(mm.refresh(f.refresh!, { clientId: 'client_1' }), MintingNotAllowed);
      assert.deepEqual(await mm.dump(), before);
    });

    it('A.77 a revoked refresh token is refused with InactiveToken(revoked)', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      await m.revokeToken(f.sessionId, f.refresh!);
      await rejectsWith(m.refresh(f.refresh!, { clientId: 'client_1' }), InactiveToken, (e) => assert.equal(e.reason, 'revoked'));
    });

    it('A.78 a refresh token is issued only when asked and allowed', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      const set = await m.redeemCode(code.value, { clientId: 'client_1', issue: { refreshToken: false } });
      assert.equal(set.refreshToken, undefined);
      const f = await codeFlow(m, 'diana', 'client_1', 'openid');
      assert.equal(f.refresh, undefined, 'no offline_access → no refresh token');
    });

    it('A.79 access token lifetime from the grant rule: expiresIn, exp − iat = 100', async () => {
      const sid = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_1'), tokenUsageRules: { access_token: { expiresIn: 100 } } });
      const code = await m.mintToken(sid, 'authorization_code');
      const set = await m.redeemCode(code.value, { clientId: 'client_1' });
      assert.equal(set.expiresIn, 100);
      const intro = await m.introspect(set.accessToken.value);
      assert.ok(intro.active);
      assert.equal(intro.exp - intro.iat, 100);
    });

    it('A.80 code or refresh token presented by another client: WrongClient', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      const code = await m.mintToken(sid, 'authorization_code');
      await rejectsWith(m.redeemCode(code.value, { clientId: 'client_2' }), WrongClient);
      const set = await m.redeemCode(code.value, { clientId: 'client_1' });
      await rejectsWith(m.refresh(set.refreshToken!.value, { clientId: 'client_2' }), WrongClient);
    });

    it('A.81 (reference accepted legacy and plain-key values) look-alike values are unknown tokens; plain keys are invalid session ids', async () => {
      const f = await codeFlow(m, 'diana', 'client_1');
      const gid = m.openSessionId(f.sessionId).grantId!;
      for (const v of [`diana;;client_1;;${gid}`, `A${f.access.slice(1)}`, f.access.slice(0, -1), `${f.access}x`, f.access.toUpperCase()]) {
        await rejectsWith(m.validateToken(v), UnknownToken);
        assert.deepEqual(await m.introspect(v), { active: false });
      }
      await rejectsWith(m.getSessionInfo(`diana;;client_1;;${gid}`), InvalidSessionId);
    });
  });

  describe('A.9 storage layer', () => {
    it('A.82 unknown user → UnknownSession', async () => {
      await rejectsWith(m.getUserInfo('diana'), UnknownSession);
    });

    it('A.83/A.86 a grant on a new path creates its ancestors with their ids (B-14: not empty)', async () => {
      const store = new MemoryStore();
      const mm = makeManager(store, clock);
      await newSession(mm, 'diana', 'client_1');
      const d = await store.dump();
      assert.deepEqual(d.users.map((u) => u.userId), ['diana']);
      assert.deepEqual(d.clients.map((c) => [c.userId, c.clientId]), [['diana', 'client_1']]);
      assert.deepEqual((await mm.getUserInfo('diana')).clientIds, ['client_1']);
    });

    it('A.84 (reference: replacing a client node wiped its child list, B-15) a new grant under an existing client keeps the others', async () => {
      const s1 = await newSession(m, 'diana', 'client_1');
      await newSession(m, 'diana', 'client_1');
      assert.equal((await m.grants(s1)).length, 2);
    });

    it('A.85 a removed node can be created again', async () => {
      const s1 = await newSession(m, 'diana', 'client_1');
      await m.removeSession(m.sessionIdOf({ userId: 'diana' }));
      const s2 = await newSession(m, 'diana', 'client_1');
      assert.equal((await m.grants(s2)).length, 1);
      await rejectsWith(m.getSessionInfo(s1), UnknownSession);
    });

    it('A.87/A.88 deleting a client removes its grant; a grant not in the tree is UnknownSession', async () => {
      const sid = await newSession(m, 'diana', 'client_1');
      await m.removeSession(m.sessionIdOf({ userId: 'diana', clientId: 'client_1' }));
      await rejectsWith(m.getSessionInfo(sid), UnknownSession);
      await rejectsWith(m.getSessionInfo(m.sessionIdOf({ userId: 'diana', clientId: 'client_1', grantId: 'G1' })), UnknownSession);
    });

    it('A.89 (reference: silent no-op) deleting a missing path is UnknownSession; deleting a user removes it', async () => {
      await rejectsWith(m.removeSession(m.sessionIdOf({ userId: 'nobody' })), UnknownSession);
      await newSession(m, 'diana', 'client_1');
      await m.removeSession(m.sessionIdOf({ userId: 'diana' }));
      await rejectsWith(m.getUserInfo('diana'), UnknownSession);
    });
  });
});
