/**
 * Field fault 18: index keys must not grow with dead members, and no key may outlive what it
 * holds. 10 000 rotations of one refresh token (access tokens live 60 s, the clock moves 50 ms
 * per rotation) and 10 000 logins of different users to one client.
 */
import assert from 'node:assert/strict';
import { hashTokenValue } from '../../src/crypto/token-value.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import { TestClock, codeFlow, makeManager, newSession } from '../conformance/harness.js';
import { allKeys, singleServerPerSuite, uniquePrefix } from './helpers.js';

describe('RedisStore: index growth and TTLs (field fault 18)', function () {
  this.timeout(180_000);
  const fx = singleServerPerSuite();

  it('10 000 rotations: the index holds live members only and every TTL follows its longest live member', async () => {
    const clock = new TestClock();
    const prefix = uniquePrefix();
    // The records' clock is the test clock: Redis TTLs are shifted by its distance to real time.
    const store = new RedisStore({ client: fx.client, prefix, clock: clock.read });
    const m = makeManager(store, clock, { tokenPolicies: { access_token: { expiresIn: 60 } } });
    const f = await codeFlow(m, 'alice', 'app');
    // The records' clock → Redis clock shift; no write used a larger one than the largest seen after a write.
    let maxShift = Date.now() - clock.now;
    let rt = f.refresh!;
    const accessHashes: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.advance(50);
      const r = await m.refresh(rt, { clientId: 'app' });
      rt = r.refreshToken!.value;
      accessHashes.push(hashTokenValue(r.accessToken.value));
      maxShift = Math.max(maxShift, Date.now() - clock.now);
    }
    const now = clock.now;
    const keys = await allKeys(fx.client, prefix);
    const indexKey = keys.find((k) => k.includes('}x:'))!;
    const userKey = keys.find((k) => k.includes('}u:'))!;
    assert.ok(indexKey && userKey);

    // Nothing in the index has expired: prune-on-write keeps up with the traffic.
    assert.equal(await fx.client.zCount(indexKey, '-inf', now), 0, 'dead members in the index');
    // What is in it: the grant, the live access tokens (60 s / 50 ms ≈ 1200), the one live refresh
    // token, and a reuse marker per rotated refresh token (live until that token would have expired).
    const d = await store.dump();
    const liveAccess = d.tokens.filter((t) => t.class === 'access_token' && t.expiresAt > now);
    const liveRefresh = d.tokens.filter((t) => t.class === 'refresh_token' && t.expiresAt > now && !t.revoked);
    assert.equal(liveAccess.length, 1200, 'access tokens of the last 60 s');
    assert.equal(liveRefresh.length, 1);
    assert.ok(d.tokens.every((t) => t.expiresAt > now), 'the dump holds an expired token');
    const markers = d.markers.length;
    // One marker per rotated refresh token; the code's marker expired with the code (300 s < 500 s).
    assert.equal(markers, 10_000);
    assert.ok(d.markers.every((x) => x.class === 'refresh_token' && x.expiresAt > now));
    assert.equal(await fx.client.zCard(indexKey), 1 + d.tokens.length + markers);
    // Expired access tokens are gone from Redis altogether, live ones are there.
    const tokenKey = (h: string) => userKey.replace(/u:[^:]*$/, `t:${h}`);
    assert.equal(await fx.client.exists(accessHashes.slice(0, 50).map(tokenKey)), 0);
    assert.equal(await fx.client.exists(accessHashes.slice(-50).map(tokenKey)), 50);
    assert.equal(keys.length, 2 + d.tokens.length + markers, 'no other key');

    // Every key's TTL: no longer than its longest live member (and every key has one). The test
    // clock runs ~50x faster than real time, so the records' clock → Redis clock shift changes
    // during the run; a key's TTL uses the shift of the write that set it, which lies between
    // the shift now and the largest seen.
    const shift = Date.now() - clock.now;
    const latest = Math.max(d.grants[0]!.expiresAt, ...d.tokens.map((t) => t.expiresAt), ...d.markers.map((x) => x.expiresAt));
    assert.equal(latest, d.grants[0]!.expiresAt, 'nothing outlives the grant');
    for (const key of [userKey, indexKey]) {
      const at = await fx.client.pExpireTime(key);
      assert.ok(at > 0, `${key} has no TTL`);
      assert.ok(at <= Math.ceil(latest + maxShift), `${key} outlives its members by ${at - (latest + maxShift)} ms`);
      assert.ok(at >= latest + shift - 2000, `${key} would expire before its members`);
    }
    const sample = [...d.tokens, ...d.markers].filter((_, i) => i % 97 === 0);
    for (const t of sample) {
      const at = await fx.client.pExpireTime(tokenKey(t.hash));
      assert.ok(at > 0, 'a token key has no TTL');
      assert.ok(at >= t.expiresAt + shift - 2000 && at <= Math.ceil(t.expiresAt + maxShift), 'a token key does not expire with its token');
    }
  });

  it('with the real clock every key expires exactly when its record does', async () => {
    const prefix = uniquePrefix();
    const store = new RedisStore({ client: fx.client, prefix });
    const m = makeManager(store, { now: 0, read: Date.now } as unknown as TestClock, { tokenPolicies: { access_token: { expiresIn: 60 } } });
    const f = await codeFlow(m, 'bob', 'app');
    await m.startBrowserSession('bob', { validFor: 3 * 86400 });
    const d = await store.dump();
    const keys = await allKeys(fx.client, prefix);
    const userKey = keys.find((k) => k.includes('}u:'))!;
    for (const t of [...d.tokens, ...d.markers]) {
      assert.equal(await fx.client.pExpireTime(userKey.replace(/u:[^:]*$/, `t:${t.hash}`)), Math.ceil(t.expiresAt));
    }
    // The user's keys: the grant (14 days) outlives the browser session (3 days) and every token.
    assert.equal(await fx.client.pExpireTime(userKey), Math.ceil(d.grants[0]!.expiresAt));
    assert.equal(await fx.client.pExpireTime(userKey.replace(/u:([^:]*)$/, 'x:$1')), Math.ceil(d.grants[0]!.expiresAt));
    // Remove the grant: the user key now lives as long as the browser session, its longest member.
    await m.removeSession(f.sessionId);
    const bs = Object.values((await m.getUserInfo('bob')).user.browserSessions)[0]!;
    assert.equal(await fx.client.pExpireTime(userKey), Math.ceil(bs.expiresAt));
    // With nothing left below it, the user node lingers a day at most.
    await m.endBrowserSession('bob', bs.id);
    const ttl = await fx.client.pTTL(userKey);
    assert.ok(ttl > 0 && ttl <= 24 * 3600 * 1000, `TTL ${ttl}`);
  });

  it('tokens written straight to the store that outlive their grant carry the TTLs of the user keys along', async () => {
    const prefix = uniquePrefix();
    const store = new RedisStore({ client: fx.client, prefix });
    const m = makeManager(store, { now: 0, read: Date.now } as unknown as TestClock);
    const f = await codeFlow(m, 'carl', 'app');
    const d = await store.dump();
    const grant = d.grants[0]!;
    const userKey = (await allKeys(fx.client, prefix)).find((k) => k.includes('}u:'))!;
    const indexKey = userKey.replace(/u:([^:]*)$/, 'x:$1');
    const route = userKey.slice(userKey.indexOf('{') + 1, userKey.indexOf('}'));
    const path = { route, userId: 'carl', clientId: 'app', grantId: grant.id };
    const template = d.tokens[0]!;
    // Within the grant's lifetime (what the manager mints): the TTLs stay on the grant.
    assert.equal(await store.addTokens(path, [{ ...template, id: 'inside', hash: hashTokenValue('inside'), expiresAt: grant.expiresAt - 1000 }]), true);
    assert.equal(await fx.client.pExpireTime(userKey), Math.ceil(grant.expiresAt));
    // Past it (no manager does this; a store must still keep every key until its last member goes).
    const later = grant.expiresAt + 86_400_000;
    assert.equal(await store.addTokens(path, [{ ...template, id: 'outside', hash: hashTokenValue('outside'), expiresAt: later }]), true);
    assert.equal(await fx.client.pExpireTime(userKey), Math.ceil(later));
    assert.equal(await fx.client.pExpireTime(indexKey), Math.ceil(later));
    assert.equal((await m.validateToken(f.access)).userId, 'carl');
  });

  it('10 000 logins to one client by different users: no per-client index; every user keeps 2 small keys', async () => {
    const clock = new TestClock();
    const prefix = uniquePrefix();
    const m = makeManager(new RedisStore({ client: fx.client, prefix, clock: clock.read }), clock);
    const before = await fx.client.dbSize();
    for (let start = 0; start < 10_000; start += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, i) => newSession(m, `user-${start + i}`, 'C')));
    }
    assert.equal((await fx.client.dbSize()) - before, 20_000, 'exactly a user hash and an index per user');
    const keys = await allKeys(fx.client, prefix);
    for (const key of keys.filter((_, i) => i % 211 === 0)) {
      if (key.includes('}x:')) assert.equal(await fx.client.zCard(key), 1);
      else assert.equal(await fx.client.hLen(key), 4, 'user, client, grant and sequence fields');
      assert.ok((await fx.client.pTTL(key)) > 0, 'every key has a TTL');
    }
  });
});
