/**
 * One test per defect class of the reference (oidcop-behaviours.md §B, B-01…B-59): each would
 * fail if our implementation had the defect. Where a defect cannot occur by construction (it
 * lives in an endpoint or in a feature we do not have), the test checks the class of fault in
 * our API and the name says why.
 */
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import {
  InactiveToken,
  InvalidInput,
  InvalidSessionId,
  MintingNotAllowed,
  OidcSessionsError,
  TokenReused,
  UnknownSession,
  UnknownToken,
} from '../../src/errors.js';
import { SessionIdCodec } from '../../src/crypto/session-id.js';
import { computeSub } from '../../src/crypto/subject.js';
import { SessionManager } from '../../src/manager/session-manager.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { SessionStore } from '../../src/store/store.js';
import { DEFAULT_USAGE_RULES } from '../../src/tree/usage-rules.js';
import {
  SECRETS,
  SECRET_SPELLINGS,
  SUBJECT_SALT,
  TestClock,
  authRequest,
  canonicalDump,
  codeFlow,
  dumpCounts,
  jwtOptions,
  makeManager,
  newSession,
  purgeAll,
  rejectsWith,
} from '../conformance/harness.js';

/** A store wrapper that counts calls per method (round trips, for a remote store). */
function countingStore(inner: SessionStore): { store: SessionStore; calls: Map<string, number>; reset(): void } {
  const calls = new Map<string, number>();
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls, reset: () => calls.clear() };
}
const total = (calls: Map<string, number>) => [...calls.values()].reduce((a, b) => a + b, 0);

describe('reference §B: every defect class has a test', () => {
  let clock: TestClock;
  let m: SessionManager;
  beforeEach(() => {
    clock = new TestClock();
    m = makeManager(undefined, clock);
  });
  const active = async (mgr: SessionManager, v: string) => (await mgr.introspect(v)).active;

  it('B-01 a user id containing the divider cannot reach another user\'s nodes', async () => {
    const alice = await codeFlow(m, 'alice', 'client_1');
    const evil = await codeFlow(m, 'alice;;client_1', 'client_x');
    assert.equal((await m.grants(alice.sessionId)).length, 1);
    assert.deepEqual((await m.getUserInfo('alice')).clientIds, ['client_1']);
    const info = await m.getSessionInfo(evil.sessionId, { grant: true });
    assert.deepEqual([info.userId, info.clientId], ['alice;;client_1', 'client_x']);
    await m.revokeClientSession(evil.sessionId);
    assert.equal(await active(m, alice.access), true);
    assert.equal((await m.getClientSessionInfo(alice.sessionId)).revoked, false);
    assert.equal((await m.getUserInfo('alice;;client_1')).user.userId, 'alice;;client_1');
  });

  it('B-02 a client id containing the divider gives a usable session', async () => {
    const f = await codeFlow(m, 'bob', 'cl;;ient');
    const info = await m.getSessionInfo(f.sessionId);
    assert.deepEqual([info.userId, info.clientId], ['bob', 'cl;;ient']);
    assert.deepEqual(m.openSessionId(f.sessionId), { userId: 'bob', clientId: 'cl;;ient', grantId: info.grantId });
  });

  it('B-03 trailing spaces survive the session id round trip', () => {
    for (const p of [{ userId: 'diana', clientId: 'client ' }, { userId: 'diana ' }, { userId: 'd', clientId: 'c', grantId: 'g  ' }]) {
      assert.deepEqual(m.openSessionId(m.sessionIdOf(p)), p);
    }
  });

  it('B-04 1,100 rotations then a recursive revoke of the code: every token of the chain is revoked, the newest too', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    let rt = f.refresh!;
    let at = f.access;
    for (let i = 0; i < 1100; i++) {
      const r = await m.refresh(rt, { clientId: 'client_1' });
      rt = r.refreshToken!.value;
      at = r.accessToken.value;
    }
    await m.revokeToken(f.sessionId, f.code, { recursive: true });
    assert.equal(await active(m, rt), false, 'the live refresh token');
    assert.equal(await active(m, at), false, 'the newest access token');
    const live = (await m.dump()).tokens.filter((t) => !t.revoked && t.expiresAt > clock.now);
    assert.deepEqual(live, [], 'no token of the chain is left active');
  });

  it('B-05 revoking a grant or a client session invalidates every token under it', async () => {
    const a = await codeFlow(m, 'diana', 'client_1');
    await m.revokeGrant(a.sessionId);
    await rejectsWith(m.validateToken(a.access), InactiveToken, (e) => assert.equal(e.reason, 'grant_revoked'));
    const b = await codeFlow(m, 'diana', 'client_2');
    await m.revokeClientSession(b.sessionId);
    await rejectsWith(m.validateToken(b.refresh!), InactiveToken, (e) => assert.equal(e.reason, 'client_session_revoked'));
  });

  it('B-06 deleting a user or a client with several grants leaves no records', async () => {
    await codeFlow(m, 'gina', 'client_1');
    await codeFlow(m, 'gina', 'client_1');
    await m.removeSession(m.sessionIdOf({ userId: 'gina', clientId: 'client_1' }));
    let d = await m.dump();
    assert.equal(d.grants.length + d.tokens.length + d.markers.length + d.clients.length, 0);
    await codeFlow(m, 'hank', 'client_1');
    await m.removeSession(m.sessionIdOf({ userId: 'hank' }));
    d = await m.dump();
    assert.ok([...d.users, ...d.clients, ...d.grants, ...d.tokens, ...d.markers].every((r) => r.userId !== 'hank'));
  });

  it('B-07 deleting never touches a key named like the client id (a user called "client_1" is untouched)', async () => {
    const victim = await codeFlow(m, 'client_1', 'app');
    const one = await newSession(m, 'frank', 'client_1');
    await newSession(m, 'frank', 'client_1');
    const before = canonicalDump(await m.dump());
    await rejectsWith(m.removeSession(m.sessionIdOf({ userId: 'frank', clientId: 'nope' })), UnknownSession);
    assert.deepEqual(canonicalDump(await m.dump()), before);
    await m.removeSession(one);
    const d = await m.dump();
    assert.deepEqual(d.users.map((u) => u.userId).sort(), ['client_1', 'frank']);
    assert.equal(await active(m, victim.access), true);
    assert.equal((await m.grants({ userId: 'frank', clientId: 'client_1' })).length, 1);
  });

  it('B-08 deleting a client session deletes its grants', async () => {
    const s1 = await newSession(m, 'gina', 'client_1');
    await m.removeSession(m.sessionIdOf({ userId: 'gina', clientId: 'client_1' }));
    assert.equal((await m.dump()).grants.length, 0);
    await rejectsWith(m.getSessionInfo(s1), UnknownSession);
  });

  it('B-09 the grant id is persisted through dump/load; the old session id still names the grant', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const copy = makeManager(undefined, clock);
    await copy.load(await m.dump());
    const info = await copy.getSessionInfo(sid, { grant: true });
    assert.equal(info.grant!.id, m.openSessionId(sid).grantId);
  });

  it('B-10 without configured secrets a loud warning is logged; with them, sub and ids are stable across instances', async () => {
    const warnings: string[] = [];
    new SessionManager({ logger: { warn: (w) => warnings.push(w) } });
    assert.match(warnings.join('\n'), /no secrets configured/);
    const a = makeManager(undefined, clock);
    const b = makeManager(undefined, clock);
    const sa = await newSession(a, 'diana', 'client_1');
    const sb = await newSession(b, 'diana', 'client_1');
    assert.equal((await a.getSessionInfo(sa, { grant: true })).grant!.sub, (await b.getSessionInfo(sb, { grant: true })).grant!.sub);
    assert.deepEqual(b.openSessionId(sa), a.openSessionId(sa));
  });

  it('B-11 pairwise ids: an empty sector is refused, field boundaries cannot shift, pairwise ≠ public', async () => {
    const salt = Buffer.alloc(32, 5);
    assert.throws(() => computeSub(salt, 'pairwise', 'diana', ''), InvalidInput);
    assert.notEqual(computeSub(salt, 'pairwise', 'ab', 'https://x'), computeSub(salt, 'pairwise', 'a', 'bhttps://x'));
    assert.notEqual(computeSub(salt, 'pairwise', 'diana', 'x'), computeSub(salt, 'public', 'diana'));
    await rejectsWith(m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('c'), subType: 'pairwise', sectorIdentifier: '' }), InvalidInput);
  });

  it('B-12 the requested subject type and the registered sector are applied', async () => {
    const pub = await newSession(m, 'diana', 'c1');
    const pw = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('c2'), subType: 'pairwise', sectorIdentifier: 'rp.example' });
    const pubSub = (await m.getSessionInfo(pub, { grant: true })).grant!.sub;
    const g = (await m.getSessionInfo(pw, { grant: true })).grant!;
    assert.equal(g.subType, 'pairwise');
    assert.notEqual(g.sub, pubSub);
    assert.equal(g.sub, computeSub(SUBJECT_SALT, 'pairwise', 'diana', 'rp.example'));
  });

  it('B-13 usage rules are values: mutating inputs or records changes nothing else', async () => {
    const rules = { authorization_code: { supportsMinting: ['access_token'] as string[] } };
    const policies = { access_token: { expiresIn: 100 } };
    const mm = makeManager(undefined, clock, { tokenPolicies: policies });
    policies.access_token.expiresIn = 1;
    const sid = await mm.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('c'), tokenUsageRules: rules });
    rules.authorization_code.supportsMinting.push('refresh_token');
    const code = await mm.mintToken(sid, 'authorization_code');
    assert.deepEqual([...code.token.usageRules.supportsMinting], ['access_token']);
    assert.equal(code.token.usageRules.maxUsage, 1);
    assert.ok(Object.isFrozen(code.token.usageRules) && Object.isFrozen(code.token.usageRules.supportsMinting));
    assert.throws(() => (code.token.usageRules.supportsMinting as string[]).push('id_token'), TypeError);
    const grant = (await mm.getSessionInfo(sid, { grant: true })).grant!;
    assert.equal(grant.usageRules.authorization_code!.maxUsage, 1);
    assert.deepEqual([...grant.usageRules.authorization_code!.supportsMinting], ['access_token']);
    assert.equal((await mm.mintToken(sid, 'access_token')).token.usageRules.expiresIn, 100);
  });

  it('B-14 addGrant lists the new grant once; auto-created ancestors carry their ids', async () => {
    await m.addGrant('diana', 'client_1', { scope: ['x'] });
    await m.addGrant('diana', 'client_1', { scope: ['y'] });
    const grants = await m.grants({ userId: 'diana', clientId: 'client_1' });
    assert.equal(grants.length, 2);
    assert.equal(new Set(grants.map((g) => g.id)).size, 2);
    const d = await m.dump();
    assert.deepEqual(d.clients.map((c) => [c.userId, c.clientId]), [['diana', 'client_1']]);
    assert.deepEqual(d.users.map((u) => u.userId), ['diana']);
  });

  it('B-15 writing at a node never wipes its children (new grant, new browser session, re-login)', async () => {
    const s1 = await newSession(m, 'diana', 'client_1');
    await m.startBrowserSession('diana', { validFor: 60 });
    await newSession(m, 'diana', 'client_2');
    await m.startBrowserSession('diana', { validFor: 60 });
    assert.deepEqual([...(await m.getUserInfo('diana')).clientIds].sort(), ['client_1', 'client_2']);
    assert.equal((await m.grants(s1)).length, 1);
  });

  it('B-16 minting does not consume the parent; one redemption issues access, refresh and ID token and counts once', async () => {
    const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
    const sid = await newSession(mm, 'diana', 'client_1');
    const code = await mm.mintToken(sid, 'authorization_code');
    await mm.mintToken(sid, 'access_token', { basedOn: code.value });
    await mm.mintToken(sid, 'refresh_token', { basedOn: code.value });
    assert.equal((await mm.findToken(sid, code.value))?.used, 0);
    const set = await mm.redeemCode(code.value, { clientId: 'client_1' });
    assert.ok(set.accessToken && set.refreshToken && set.idToken);
    await rejectsWith(mm.redeemCode(code.value, { clientId: 'client_1' }), TokenReused);
  });

  it('B-17 grants() above the client level lists the grants of every client', async () => {
    await newSession(m, 'diana', 'c1');
    await newSession(m, 'diana', 'c2');
    assert.deepEqual((await m.grants({ userId: 'diana' })).map((g) => g.clientId).sort(), ['c1', 'c2']);
  });

  it('B-18 a code of a revoked grant is a typed error (maps to invalid_grant), never a crash', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const code = await m.mintToken(sid, 'authorization_code');
    await m.revokeGrant(sid);
    await rejectsWith(m.redeemCode(code.value, { clientId: 'client_1' }), InactiveToken, (e) => assert.equal(e.reason, 'grant_revoked'));
    await rejectsWith(m.mintToken(sid, 'access_token'), MintingNotAllowed);
    await rejectsWith(m.mintToken(sid, 'access_token', { basedOn: code.value }), MintingNotAllowed);
  });

  it('B-19 "not found" is one typed vocabulary: a code whose grant was removed is UnknownToken', async () => {
    const s1 = await newSession(m, 'diana', 'client_1');
    await newSession(m, 'diana', 'client_1');
    const code = await m.mintToken(s1, 'authorization_code');
    await m.removeSession(s1);
    const errors = [
      await rejectsWith(m.redeemCode(code.value, { clientId: 'client_1' }), UnknownToken),
      await rejectsWith(m.getSessionInfo(s1), UnknownSession),
      await rejectsWith(m.getUserInfo('nobody'), UnknownSession),
      await rejectsWith(m.getSessionInfo('garbage'), InvalidSessionId),
    ];
    for (const e of errors) {
      assert.ok(e instanceof OidcSessionsError);
      assert.equal(typeof e.code, 'string');
      assert.ok(e.status >= 400 && e.status < 600);
    }
  });

  it('B-20 getSessionInfo with every flag at once', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const info = await m.getSessionInfo(sid, { user: true, client: true, grant: true, authnEvent: true, authRequest: true });
    assert.equal(info.user?.userId, 'diana');
    assert.equal(info.client?.clientId, 'client_1');
    assert.equal(info.grant?.id, info.grantId);
    assert.equal(info.authnEvent?.userId, 'diana');
    assert.equal(info.authRequest?.client_id, 'client_1');
  });

  it('B-21 the grant and the token of a value come back together', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    const info = await m.getSessionInfoByToken(f.access, { grant: true });
    assert.equal(info.grant?.id, info.token?.grantId);
    assert.equal(info.token?.class, 'access_token');
  });

  it('B-22/B-23 (no ExchangeGrant: token exchange is not offered) the rules a token is minted with are its rules, and its links to its origin survive persistence', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const code = await m.mintToken(sid, 'authorization_code');
    const at = await m.mintToken(sid, 'access_token', { basedOn: code.value, usageRules: { expiresIn: 999, supportsMinting: [] } });
    assert.equal(at.token.usageRules.expiresIn, 999);
    const set = await m.redeemCode(code.value, { clientId: 'client_1' });
    const r = await m.refresh(set.refreshToken!.value, { clientId: 'client_1' });
    const copy = makeManager(undefined, clock);
    await copy.load(await m.dump());
    const byId = new Map((await copy.dump()).tokens.map((t) => [t.id, t]));
    assert.equal(byId.get(at.token.id)?.basedOn, code.token.id);
    assert.equal(byId.get(at.token.id)?.usageRules.expiresIn, 999);
    assert.equal(byId.get(r.refreshToken!.token.id)?.familyId, set.refreshToken!.token.familyId);
    await copy.revokeToken(sid, code.value, { recursive: true });
    assert.equal(await active(copy, r.accessToken.value), false, 'lineage still reaches the rotated chain after a reload');
  });

  it('B-24 a revocation reports each token once; revoking again reports nothing new', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const code = await m.mintToken(sid, 'authorization_code');
    await m.mintToken(sid, 'access_token', { basedOn: code.value });
    const events: number[] = [];
    m.on('token.revoked', (e) => events.push(e.count));
    assert.equal(await m.revokeToken(sid, code.value, { recursive: true }), 2);
    assert.equal(await m.revokeToken(sid, code.value, { recursive: true }), 0);
    assert.deepEqual(events, [2, 0]);
  });

  it('B-25 the authentication time passed in is kept (and is the ID token auth_time)', async () => {
    const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
    const authnTime = clock.now - 7200_000;
    const sid = await mm.createSession({ userId: 'diana', authnEvent: { authnTime, validFor: 86400 }, authRequest: authRequest('client_1') });
    assert.equal((await mm.getAuthenticationEvent(sid)).authnTime, authnTime);
    const code = await mm.mintToken(sid, 'authorization_code');
    const set = await mm.redeemCode(code.value, { clientId: 'client_1' });
    assert.equal(decodeJwt(set.idToken!.value).auth_time, Math.floor(authnTime / 1000));
  });

  it('B-26 the sub salt is separate from the session-id keys: rotating the key ring keeps sub and old ids', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const sub = (await m.getSessionInfo(sid, { grant: true })).grant!.sub;
    const rotated = new SessionManager({
      secrets: { sessionIdKeys: [{ kid: 'k3', key: Buffer.alloc(32, 11) }, ...SECRETS.sessionIdKeys], subjectSalt: SUBJECT_SALT },
      store: m.store,
      clock: clock.read,
    });
    assert.equal((await rotated.getSessionInfo(sid, { grant: true })).grant!.sub, sub);
    const fresh = await newSession(rotated, 'diana', 'client_2');
    assert.equal((await rotated.getSessionInfo(fresh, { grant: true })).grant!.sub, sub);
    await rejectsWith(m.getSessionInfo(fresh), InvalidSessionId, () => {}); // sealed with a key m does not have
  });

  it('B-27 the store keeps hashes of token values, never the values, and parents by id', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    const text = JSON.stringify(await m.dump());
    for (const v of [f.code, f.access, f.refresh!]) assert.ok(!text.includes(v));
    assert.equal(f.set.accessToken.token.basedOn, f.codeRecord.id);
  });

  it('B-28 session-id keys are 32 random bytes, not passwords; session ids reveal no plaintext', async () => {
    assert.throws(() => new SessionManager({ secrets: { sessionIdKeys: [{ kid: 'k', key: 'password' }], subjectSalt: SUBJECT_SALT } }), InvalidInput);
    const sid = await newSession(m, 'alice-the-user', 'client_1');
    assert.ok(!Buffer.from(sid, 'base64url').includes('alice-the-user'));
    assert.ok(!Buffer.from(sid, 'base64url').includes('client_1'));
  });

  it('B-29 "newest" never picks the older of two grants issued in the same millisecond', async () => {
    await newSession(m, 'diana', 'client_1');
    const second = await newSession(m, 'diana', 'client_1');
    assert.equal((await m.getGrantByResponseType('diana', 'client_1', 'code'))?.id, m.openSessionId(second).grantId);
  });

  it('B-30 a revoked token is reported inactive (with the reason), never as a live spec', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    await m.revokeToken(f.sessionId, f.access);
    const info = await m.getSessionInfoByToken(f.access);
    assert.equal(info.active, false);
    assert.equal(info.inactiveReason, 'revoked');
    await rejectsWith(m.validateToken(f.access), InactiveToken);
  });

  it('B-31 per-grant or per-manager rules never change the defaults', async () => {
    makeManager(undefined, clock, { tokenPolicies: { access_token: { expiresIn: 5 } } });
    await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('c'), tokenUsageRules: { access_token: { expiresIn: 5 } } });
    assert.equal(DEFAULT_USAGE_RULES.access_token!.expiresIn, 3600);
    assert.ok(Object.isFrozen(DEFAULT_USAGE_RULES) && Object.isFrozen(DEFAULT_USAGE_RULES.access_token));
    const fresh = makeManager(undefined, clock);
    const s2 = await newSession(fresh, 'x', 'c');
    assert.equal((await fresh.mintToken(s2, 'access_token')).token.usageRules.expiresIn, 3600);
    const s3 = await newSession(m, 'y', 'c');
    assert.equal((await m.mintToken(s3, 'access_token')).token.usageRules.expiresIn, 3600, 'other grants of the same manager keep the default');
  });

  it('B-32 the requested class is the class; a token of one class never passes for another', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const at = await m.mintToken(sid, 'access_token');
    assert.equal(at.token.class, 'access_token');
    await rejectsWith(m.validateToken(at.value, { tokenClass: 'authorization_code' }), InactiveToken, (e) => assert.equal(e.reason, 'wrong_class'));
    await rejectsWith(m.redeemCode(at.value, { clientId: 'client_1' }), UnknownToken);
    await rejectsWith(m.refresh(at.value, { clientId: 'client_1' }), UnknownToken);
  });

  it('B-33 one expiry clock: record, response expiresIn, introspection and ID token agree; nothing outlives its grant', async () => {
    const mm = makeManager(undefined, clock, { jwt: await jwtOptions(), grantLifetime: 86400 });
    const f = await codeFlow(mm, 'diana', 'client_1');
    const at = f.set.accessToken.token;
    assert.equal(f.set.expiresIn * 1000, at.expiresAt - at.issuedAt);
    const intro = await mm.introspect(f.access);
    assert.ok(intro.active);
    assert.equal(intro.exp * 1000, at.expiresAt);
    assert.equal((decodeJwt(f.set.idToken!.value).exp as number) * 1000, f.set.idToken!.token.expiresAt);
    const grant = (await mm.getSessionInfo(f.sessionId, { grant: true })).grant!;
    assert.equal(f.set.refreshToken!.token.expiresAt, grant.expiresAt, 'a 14-day refresh token is capped by the 1-day grant');
    clock.advanceSeconds(86400);
    await rejectsWith(mm.refresh(f.refresh!, { clientId: 'client_1' }), InactiveToken);
  });

  it('B-34 (no token exchange) lineage never crosses grants: a parent from another grant is refused', async () => {
    const a = await codeFlow(m, 'diana', 'client_1');
    const b = await newSession(m, 'diana', 'client_1');
    await rejectsWith(m.mintToken(b, 'access_token', { basedOn: a.refresh! }), UnknownToken);
    const bt = await m.mintToken(b, 'access_token');
    await m.revokeToken(a.sessionId, a.code, { recursive: true });
    assert.equal(await active(m, bt.value), true);
  });

  it('B-35 dumps carry no key material; loading a dump never changes the loading manager\'s keys', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    const dump = await m.dump();
    const text = JSON.stringify(dump);
    for (const s of SECRET_SPELLINGS) assert.ok(!text.includes(s));
    const other = new SessionManager({ secrets: { sessionIdKeys: [{ kid: 'other', key: Buffer.alloc(32, 42) }], subjectSalt: Buffer.alloc(32, 43) }, clock: clock.read });
    const own = await newSession(other, 'zoe', 'c');
    await other.load(dump);
    await rejectsWith(other.getSessionInfo(f.sessionId), InvalidSessionId);
    assert.equal((await other.getSessionInfo(own)).userId, 'zoe');
  });

  it('B-36 (endpoint defect) the class: no operation ever writes a second copy of a node', async () => {
    const store = new MemoryStore();
    const mm = makeManager(store, clock);
    const f = await codeFlow(mm, 'diana', 'client_1');
    await mm.refresh(f.refresh!, { clientId: 'client_1' });
    await mm.validateToken(f.access);
    await mm.getSessionInfoByToken(f.access);
    await mm.startBrowserSession('diana', { validFor: 60 });
    const s = store.stats();
    assert.deepEqual([s.users, s.clients, s.grants], [1, 1, 1]);
    assert.equal(s.hashes, s.tokens + s.markers, 'every token is indexed exactly once');
  });

  it('B-37 check-then-use: concurrent redemptions and refreshes each succeed exactly once', async () => {
    const mm = makeManager(undefined, clock, { reusePolicy: { code: 'none', refresh: 'none' } });
    const sid = await newSession(mm, 'diana', 'client_1');
    const code = await mm.mintToken(sid, 'authorization_code');
    const redeemed = await Promise.allSettled([1, 2, 3, 4].map(() => mm.redeemCode(code.value, { clientId: 'client_1' })));
    assert.equal(redeemed.filter((r) => r.status === 'fulfilled').length, 1);
    const set = (redeemed.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<SessionManager['redeemCode']>>>).value;
    const refreshed = await Promise.allSettled([1, 2, 3, 4].map(() => mm.refresh(set.refreshToken!.value, { clientId: 'client_1' })));
    assert.equal(refreshed.filter((r) => r.status === 'fulfilled').length, 1);
  });

  it('B-38 (endpoint defect) the class: session ids never expose the plain path, and plain keys are refused', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const gid = m.openSessionId(sid).grantId!;
    assert.ok(!sid.includes('diana') && !sid.includes(gid));
    await rejectsWith(m.getSessionInfo(`diana;;client_1;;${gid}`), InvalidSessionId);
  });

  it('B-39 createSession is atomic: a failing call writes nothing, even for a new user', async () => {
    const before = await m.dump();
    await rejectsWith(m.createSession({ userId: 'sue', authnEvent: {}, authRequest: authRequest('client_1'), subType: 'weird' as never }), InvalidInput);
    await rejectsWith(m.createSession({ userId: 'sue', authnEvent: {}, authRequest: authRequest('client_1'), subType: 'pairwise' }), InvalidInput);
    await rejectsWith(m.createSession({ userId: 'sue', authnEvent: {}, authRequest: authRequest('client_1'), tokenUsageRules: { access_token: { maxUsage: 0 } } }), InvalidInput);
    assert.deepEqual(await m.dump(), before);
    await rejectsWith(m.getUserInfo('sue'), UnknownSession);
  });

  it('B-40 a grant without an authorization request works, and a request is never modified in place', async () => {
    const sid = await m.addGrant('x', 'c');
    assert.deepEqual((await m.getSessionInfo(sid, { authRequest: true })).authRequest, {});
    const req = Object.freeze({ ...authRequest('c'), resource: Object.freeze(['https://rs']) });
    await m.createSession({ userId: 'x', authnEvent: {}, authRequest: req, resources: ['https://other'] });
    assert.deepEqual(req.resource, ['https://rs']);
  });

  it('B-41 a short session id given where a grant is needed is InvalidSessionId', async () => {
    await newSession(m, 'diana', 'client_1');
    for (const short of [m.sessionIdOf({ userId: 'diana', clientId: 'client_1' }), m.sessionIdOf({ userId: 'diana' })]) {
      await rejectsWith(m.getSessionInfo(short), InvalidSessionId);
      await rejectsWith(m.mintToken(short, 'access_token'), InvalidSessionId);
      await rejectsWith(m.revokeGrant(short), InvalidSessionId);
    }
    await rejectsWith(m.getClientSessionInfo(m.sessionIdOf({ userId: 'diana' })), InvalidSessionId);
  });

  it('B-42 an expired token is inactive (reason expired), introspection says active:false, nothing throws oddly', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const at = await m.mintToken(sid, 'access_token', { usageRules: { expiresIn: 10 } });
    clock.advanceSeconds(11);
    await rejectsWith(m.validateToken(at.value), InactiveToken, (e) => assert.equal(e.reason, 'expired'));
    assert.deepEqual(await m.introspect(at.value), { active: false });
    const info = await m.getSessionInfoByToken(at.value);
    assert.equal(info.inactiveReason, 'expired');
  });

  it('B-43 getSessionInfo checks that the nodes exist', async () => {
    await rejectsWith(m.getSessionInfo(m.sessionIdOf({ userId: 'jack', clientId: 'noclient', grantId: 'g' })), UnknownSession);
  });

  it('B-44 one validateToken call resolves and checks: unknown, revoked, expired, wrong class, orphaned', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    const v = await m.validateToken(f.access, { tokenClass: 'access_token', clientId: 'client_1' });
    assert.equal(v.userId, 'diana');
    await rejectsWith(m.validateToken('abc' + 'x'.repeat(43)), UnknownToken);
    await rejectsWith(m.validateToken(f.access, { tokenClass: 'refresh_token' }), InactiveToken);
    await m.removeSession(f.sessionId);
    await rejectsWith(m.validateToken(f.refresh!), UnknownToken);
  });

  it('B-45 rotations do not grow the grant: 1,000 rotations leave one live refresh token record', async () => {
    const store = new MemoryStore();
    const mm = makeManager(store, clock, { tokenPolicies: { access_token: { expiresIn: 60 } } });
    const f = await codeFlow(mm, 'diana', 'client_1');
    let rt = f.refresh!;
    for (let i = 0; i < 1000; i++) {
      clock.advanceSeconds(1);
      rt = (await mm.refresh(rt, { clientId: 'client_1' })).refreshToken!.value;
    }
    const listed = await store.listTokens({ route: '', ...(mm.openSessionId(f.sessionId) as { userId: string; clientId: string; grantId: string }) });
    assert.equal(listed.filter((t) => t.class === 'refresh_token').length, 1);
    assert.ok(listed.length <= 70, `grant holds ${listed.length} token records`);
  });

  it('B-46 no scans: validation is one store call, redemption and refresh two, whatever the grant size', async () => {
    const counting = countingStore(new MemoryStore());
    const mm = makeManager(counting.store, clock);
    const sid = await newSession(mm, 'diana', 'client_1');
    for (let i = 0; i < 2000; i++) await mm.mintToken(sid, 'access_token');
    const code = await mm.mintToken(sid, 'authorization_code');
    counting.reset();
    const set = await mm.redeemCode(code.value, { clientId: 'client_1' });
    assert.equal(total(counting.calls), 2, JSON.stringify([...counting.calls]));
    counting.reset();
    await mm.validateToken(set.accessToken.value);
    // The memory store answers lookups at once (findTokenNow); either way, one call.
    assert.deepEqual([...counting.calls], [['findTokenNow', 1]]);
    counting.reset();
    await mm.introspect(set.accessToken.value);
    assert.equal(total(counting.calls), 1);
    counting.reset();
    await mm.refresh(set.refreshToken!.value, { clientId: 'client_1' });
    assert.equal(total(counting.calls), 2);
  });

  it('B-47 concurrent writes on one grant lose nothing', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const minted = await Promise.all(Array.from({ length: 50 }, () => m.mintToken(sid, 'access_token')));
    const flows = await Promise.all(Array.from({ length: 10 }, async () => {
      const code = await m.mintToken(sid, 'authorization_code');
      return m.redeemCode(code.value, { clientId: 'client_1' });
    }));
    for (const t of minted) assert.equal(await active(m, t.value), true);
    for (const f of flows) assert.equal(await active(m, f.accessToken.value), true);
    assert.equal((await m.dump()).tokens.filter((t) => t.class === 'access_token').length, 60);
  });

  it('B-48 code replay kills the code itself and the grant, not only the children', async () => {
    const f = await codeFlow(m, 'diana', 'client_1');
    const sibling = await m.mintToken(f.sessionId, 'access_token');
    clock.advanceSeconds(2);
    await rejectsWith(m.redeemCode(f.code, { clientId: 'client_1' }), TokenReused);
    assert.equal(await active(m, f.code), false);
    assert.equal((await m.getSessionInfo(f.sessionId, { grant: true })).grant!.revoked, true);
    assert.equal(await active(m, sibling.value), false);
  });

  it('B-49 refresh reuse cuts off access tokens minted from earlier members of the chain', async () => {
    const mm = makeManager(undefined, clock, { reusePolicy: { refresh: 'descendants' } });
    const f = await codeFlow(mm, 'diana', 'client_1');
    const r1 = await mm.refresh(f.refresh!, { clientId: 'client_1' });
    const r2 = await mm.refresh(r1.refreshToken!.value, { clientId: 'client_1' });
    clock.advanceSeconds(10);
    await rejectsWith(mm.refresh(r1.refreshToken!.value, { clientId: 'client_1' }), TokenReused, (e) => assert.equal(e.revoked, 'descendants'));
    for (const v of [r1.accessToken.value, r2.accessToken.value, r2.refreshToken!.value]) assert.equal(await active(mm, v), false);
    assert.notEqual(r2.refreshToken!.token.usageRules, undefined);
    assert.ok(Object.isFrozen(r2.refreshToken!.token.usageRules));
  });

  it('B-50 logging out everywhere reaches every client, with or without ID tokens or logout URIs', async () => {
    const a = await codeFlow(m, 'diana', 'no_id_token_client', 'offline_access');
    const b = await codeFlow(m, 'diana', 'another');
    await m.logoutUser('diana');
    for (const v of [a.access, a.refresh!, b.access, b.refresh!]) assert.equal(await active(m, v), false);
  });

  it('B-51 (oidcop) tokens obtained by refresh stay usable after the authentication event expires', async () => {
    const sid = await m.createSession({ userId: 'diana', authnEvent: { validFor: 60 }, authRequest: authRequest('client_1') });
    const code = await m.mintToken(sid, 'authorization_code');
    const set = await m.redeemCode(code.value, { clientId: 'client_1' });
    clock.advanceSeconds(3600);
    const r = await m.refresh(set.refreshToken!.value, { clientId: 'client_1' });
    assert.equal((await m.validateToken(r.accessToken.value)).userId, 'diana');
  });

  it('B-52 ids are random 128-bit values, not time-based UUIDs: token, grant and browser-session ids, and JWT ids', async () => {
    const mm = makeManager(undefined, clock, { jwt: await jwtOptions() });
    const sid = await newSession(mm, 'diana', 'client_1');
    const kinds: Record<string, { ids: string[]; format: RegExp }> = {
      'token id': { ids: [], format: /^[A-Za-z0-9_-]{22}$/ },
      'grant id': { ids: [], format: /^[A-Za-z0-9_-]{22}$/ },
      'browser session id': { ids: [], format: /^[A-Za-z0-9_-]{22}$/ },
      // The jti is the token's reference value: a masked route and 256 random bits.
      jti: { ids: [], format: /^[A-Za-z0-9_-]{46}$/ },
    };
    for (let i = 0; i < 500; i++) {
      clock.advance(1000); // a time-based id would change with the clock (and only with it)
      kinds['token id']!.ids.push((await mm.mintToken(sid, 'access_token')).token.id);
      kinds['grant id']!.ids.push(mm.openSessionId(await newSession(mm, 'diana', 'client_1')).grantId!);
      kinds['browser session id']!.ids.push(await mm.startBrowserSession('diana', { validFor: 3600 }));
      kinds.jti!.ids.push(decodeJwt((await mm.mintToken(sid, 'id_token')).value).jti!);
    }
    for (const [kind, { ids, format }] of Object.entries(kinds)) {
      assert.equal(new Set(ids).size, 500, `${kind}s repeat`);
      for (const id of ids) assert.match(id, format, kind);
      const prefixes = new Set(ids.map((id) => id.slice(0, 4)));
      assert.ok(prefixes.size > 400, `${kind}s share a prefix: ${prefixes.size} distinct of 500`);
    }
  });

  it('B-53 loading never instantiates anything named in the data: extra fields dropped, records are plain', async () => {
    await codeFlow(m, 'diana', 'client_1');
    const dump = JSON.parse(JSON.stringify(await m.dump()));
    dump.grants[0].__class__ = 'os.system';
    dump.grants[0].authRequest.constructor = { prototype: { polluted: true } };
    dump.tokens[0].toJSON = 'boom';
    const copy = makeManager(undefined, clock);
    await copy.load(dump);
    const d = await copy.dump();
    assert.equal((d.grants[0] as unknown as Record<string, unknown>).__class__, undefined);
    assert.equal((d.tokens[0] as unknown as Record<string, unknown>).toJSON, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(d.grants[0]!.authRequest, 'constructor')?.value, { prototype: { polluted: true } });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    for (const r of [...d.users, ...d.grants, ...d.tokens]) assert.ok([Object.prototype, null].includes(Object.getPrototypeOf(r)));
  });

  it('B-54 session ids are strict: no alternative spelling opens', async () => {
    const sid = await newSession(m, 'diana', 'client_1');
    const variants = [
      `${sid}!`,
      `${sid}=`,
      `${sid} `,
      ` ${sid}`,
      sid.replaceAll('-', '+').replaceAll('_', '/'),
      `${sid.slice(0, 10)}\n${sid.slice(10)}`,
      Buffer.from(sid, 'base64url').toString('base64'),
    ].filter((v) => v !== sid);
    for (const v of variants) await rejectsWith(m.getSessionInfo(v), InvalidSessionId);
  });

  it('B-55 session ids carry no readable time and die with their node', async () => {
    const sid = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_1'), expiresIn: 60 });
    const path = m.openSessionId(sid);
    assert.deepEqual(Object.keys(path).sort(), ['clientId', 'grantId', 'userId']);
    // The clear text of an id is what the format defines, nothing else: version 1, the length of
    // the key id and the key id (SECRETS' first key, 'k2'); then nonce, ciphertext and tag.
    const kid = Buffer.from(SECRETS.sessionIdKeys[0].kid);
    const header = Buffer.concat([Buffer.from([1, kid.length]), kid]);
    // The same path sealed many times at two clock values 30 years apart (and real time moving
    // on meanwhile): beyond the header no byte position is constant within a group, so none can
    // carry a time (nor anything else deterministic), and the groups look alike.
    const group = () => Array.from({ length: 64 }, () => Buffer.from(m.sessionIdOf(path), 'base64url'));
    clock.advanceSeconds(30);
    const early = group();
    assert.equal((await m.getSessionInfo(sid)).grantId, path.grantId);
    clock.advanceSeconds(31);
    await purgeAll(m);
    await rejectsWith(m.getSessionInfo(sid), UnknownSession);
    clock.advanceSeconds(30 * 365 * 86400);
    const late = group();
    for (const ids of [early, late]) {
      for (const raw of ids) {
        assert.equal(raw.length, early[0]!.length, 'ids of one path differ in length');
        assert.deepEqual(raw.subarray(0, header.length), header);
      }
      for (let p = header.length; p < ids[0]!.length; p++) {
        assert.ok(new Set(ids.map((raw) => raw[p])).size > 1, `byte ${p} is the same in every id of one time`);
      }
    }
  });

  it('B-56 no key ring without real keys: empty ring, short key or duplicate kid is refused', () => {
    assert.throws(() => new SessionIdCodec([]), InvalidInput);
    assert.throws(() => new SessionIdCodec([{ kid: 'k', key: new Uint8Array(16) }]), InvalidInput);
    assert.throws(() => new SessionIdCodec([{ kid: 'k', key: new Uint8Array(32) }, { kid: 'k', key: new Uint8Array(32) }]), InvalidInput);
    assert.throws(() => new SessionManager({ secrets: { sessionIdKeys: [], subjectSalt: SUBJECT_SALT } }), InvalidInput);
    assert.throws(() => new SessionManager({ secrets: { sessionIdKeys: 'k' as never, subjectSalt: SUBJECT_SALT } }), InvalidInput);
  });

  it('B-57 no shared mutable defaults: a class registered in one manager or grant is unknown elsewhere', async () => {
    const withCustom = makeManager(undefined, clock, { tokenPolicies: { my_token: { supportsMinting: [], expiresIn: 60 } } });
    const s1 = await newSession(withCustom, 'diana', 'c');
    await withCustom.mintToken(s1, 'my_token');
    const s2 = await newSession(m, 'diana', 'c');
    await rejectsWith(m.mintToken(s2, 'my_token'), MintingNotAllowed);
    const g1 = await m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('c'), tokenUsageRules: { grant_only: { supportsMinting: [], expiresIn: 5 } } });
    await m.mintToken(g1, 'grant_only');
    await rejectsWith(m.mintToken(s2, 'grant_only'), MintingNotAllowed);
  });

  it('B-58 a client id that disagrees with the request is InvalidInput, nothing written', async () => {
    await rejectsWith(m.createSession({ userId: 'diana', authnEvent: {}, authRequest: authRequest('client_A'), clientId: 'client_B' }), InvalidInput);
    assert.deepEqual(dumpCounts(await m.dump()), { users: 0, clients: 0, grants: 0, tokens: 0, markers: 0 });
  });

  it('B-59 tokens work across workers and restarts that share configured secrets and a store', async () => {
    const store = new MemoryStore();
    const w1 = makeManager(store, clock);
    const f = await codeFlow(w1, 'diana', 'client_1');
    const w2 = makeManager(store, clock);
    assert.equal((await w2.validateToken(f.access)).userId, 'diana');
    const r = await w2.refresh(f.refresh!, { clientId: 'client_1' });
    const restarted = makeManager(store, clock);
    assert.equal((await restarted.validateToken(r.accessToken.value)).grantId, m.openSessionId(f.sessionId).grantId);
  });
});
