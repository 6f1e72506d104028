/**
 * RedisStore specifics beyond the conformance suite: the compact encoding round-trips every
 * record field exactly (MemoryStore is the oracle), hostile strings in every id, user-key
 * collisions are refused, forged routes never reach Redis, options are checked, the client's
 * reply type mapping doesn't matter, and one user's keys share one Cluster slot.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createClient, RESP_TYPES } from 'redis';
import { InvalidInput, MintingNotAllowed, UnknownSession } from '../../src/errors.js';
import { hashTokenValue } from '../../src/crypto/token-value.js';
import { decodeGrant, decodeMarker, decodeToken, decodeUser, encodeGrant, encodeMarker, encodeToken, encodeUser } from '../../src/redis/codec.js';
import { grantOf, userOf } from '../../src/redis/decoded.js';
import { esc, unesc, userHash } from '../../src/redis/keys.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { TreeDump } from '../../src/store/store.js';
import type { GrantRecord, ReuseMarker, TokenRecord, UserRecord } from '../../src/tree/records.js';
import { DEFAULT_USAGE_RULES } from '../../src/tree/usage-rules.js';
import { TestClock, canonicalDump, codeFlow, makeManager, newSession, routeOfToken } from '../conformance/harness.js';
import { allKeys, singleServerPerSuite, threeMastersPerSuite, uniquePrefix } from './helpers.js';

const T = Date.now() + 3_600_000; // a time in the future, so nothing expires during the test
const ROUTE = 'AbC';

/** Strings that a separator-based encoding would trip over. */
const NASTY = ['a\tb', 'line\nbreak', '%', '%09', '%0A', '%25', '%=', ' ', 'nul\u0000', '__proto__', 'ünï🙂', '~', 'c', 'x'.repeat(300)];

/** A hand-made tree that uses every optional field and every hostile string. */
function nastyTree(): TreeDump {
  const users: UserRecord[] = [];
  const clients: TreeDump['clients'][number][] = [];
  const grants: GrantRecord[] = [];
  const tokens: TokenRecord[] = [];
  const markers: ReuseMarker[] = [];
  NASTY.forEach((s, i) => {
    const userId = `${s}-user`;
    users.push({
      userId,
      epoch: i % 3,
      createdAt: T - 1000.5,
      browserSessions: Object.fromEntries([
        [s, { id: s, createdAt: T - 10, expiresAt: T + 10_000, epoch: i % 3 }],
        ['other', { id: 'other', createdAt: T - 5, expiresAt: T + 20_000, epoch: 0 }],
      ]),
    });
    clients.push({ userId, clientId: s, revoked: i % 2 === 0, createdAt: T - 100 });
    const grantId = `${s}-grant`;
    const grant: GrantRecord = {
      id: grantId,
      userId,
      clientId: s,
      scope: i % 4 === 0 ? [] : ['openid', `s${i}`, '%='],
      claims: i % 2 ? { userinfo: { email: null, nested: { [s]: [1, 2.5, 'x'] } } } : {},
      resources: i % 3 ? [`https://rs/${i}`] : [],
      authRequest: {
        client_id: i % 2 ? s : 'someone-else',
        scope: i % 5 ? ['array', 'scope'] : 'openid %= s' + i,
        [s]: s,
        __proto__x: { a: 1 },
        empty: {},
        list: [],
      },
      authnEvent: { userId: i % 6 ? userId : 'another-user', ...(i % 2 && { authnInfo: s, amr: [s, 'pwd'] }), authnTime: T - 7, validUntil: T + 3600.25 },
      sub: `sub-${s}`,
      subType: (['public', 'pairwise', 'ephemeral'] as const)[i % 3]!,
      usageRules:
        i % 2
          ? DEFAULT_USAGE_RULES
          : {
              access_token: { expiresIn: 60, supportsMinting: [], format: 'jwt' },
              [`custom ${s}`]: { maxUsage: 2, supportsMinting: ['access_token', `custom ${s}`] },
              refresh_token: DEFAULT_USAGE_RULES.refresh_token!,
            },
      issuedAt: T - 50,
      notBefore: i % 2 ? T - 50 : T - 40,
      expiresAt: T + 86_400_000,
      revoked: i % 4 === 1,
      ...(i % 3 === 1 && { browserSessionId: s }),
    };
    grants.push(grant);
    const base = { grantId, userId, clientId: s, issuedAt: T - 30, notBefore: T - 30, epoch: 0, offline: false, revoked: false, used: 0 };
    tokens.push(
      {
        ...base,
        id: `${s}-code`,
        class: 'authorization_code',
        hash: hashTokenValue(`${s}-code`),
        scope: grant.scope,
        usageRules: DEFAULT_USAGE_RULES.authorization_code!,
        expiresAt: T + 300_000,
        codeBinding: { redirectUri: `https://app/${s}`, codeChallenge: 'c'.repeat(43), codeChallengeMethod: i % 2 ? 'plain' : 'S256', nonce: s },
      },
      {
        ...base,
        id: s,
        class: `custom ${s}`,
        hash: hashTokenValue(`${s}-custom`),
        basedOn: `${s}-code`,
        familyId: s,
        chainStartedAt: T - 31,
        scope: ['other'],
        claims: { [s]: { deep: [s] } },
        resources: [s],
        usageRules: { expiresIn: 1.5, maxUsage: 7, supportsMinting: [s, 'id_token'], ...(i % 2 && { format: 'jwt' as const }) },
        used: 3,
        usedAt: T - 1.25,
        notBefore: T - 20,
        expiresAt: T + 1500,
        revoked: true,
        epoch: 2,
        offline: true,
        browserSessionId: s,
      },
      {
        ...base,
        id: `${s}-rt`,
        class: 'refresh_token',
        hash: hashTokenValue(`${s}-rt`),
        basedOn: s,
        familyId: `${s}-family`,
        scope: [],
        usageRules: DEFAULT_USAGE_RULES.refresh_token!,
        expiresAt: T + 1_000_000,
      },
    );
    markers.push(
      { hash: hashTokenValue(`${s}-m1`), tokenId: `${s}-old`, grantId, userId, clientId: s, class: 'refresh_token', usedAt: T - 3, expiresAt: T + 9000, familyId: `${s}-old` },
      { hash: hashTokenValue(`${s}-m2`), tokenId: `${s}-old2`, grantId, userId, clientId: s, class: `custom ${s}`, usedAt: T - 2, expiresAt: T + 9000 },
    );
  });
  return { version: 1, users, clients, grants, tokens, markers };
}

/** A result as plain JSON with object keys and list order normalised (order is not part of the contract). */
function plain(v: unknown): unknown {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(norm).sort((p, q) => (JSON.stringify(p) < JSON.stringify(q) ? -1 : 1));
    if (x && typeof x === 'object') return Object.fromEntries(Object.keys(x).sort().map((k) => [k, norm((x as Record<string, unknown>)[k])]));
    return x;
  };
  return norm(JSON.parse(JSON.stringify(v ?? null)));
}

describe('RedisStore (single server)', function () {
  this.timeout(30_000);
  const fx = singleServerPerSuite();

  it('load then dump returns every record exactly as MemoryStore does, hostile strings included', async () => {
    const tree = nastyTree();
    const memory = new MemoryStore();
    const redis = fx.store();
    await memory.load(structuredClone(tree), () => ROUTE);
    await redis.load(structuredClone(tree), () => ROUTE);
    const expected = canonicalDump(await memory.dump());
    assert.deepEqual(canonicalDump(await redis.dump()), expected);
    assert.deepEqual(canonicalDump(tree), expected, 'the oracle keeps the tree as loaded');
    // Lookups by hash agree too: tokens with their grant, user and client; markers.
    for (const t of [...tree.tokens.slice(0, 9), ...tree.markers.slice(0, 4)]) {
      const [a, b] = [await memory.findToken(ROUTE, t.hash), await redis.findToken(ROUTE, t.hash)];
      assert.deepEqual(canonicalDump({ version: 1, users: [b!.user], clients: [b!.client], grants: [b!.grant], tokens: b!.token ? [b!.token] : [], markers: b!.marker ? [b!.marker] : [] }), canonicalDump({ version: 1, users: [a!.user], clients: [a!.client], grants: [a!.grant], tokens: a!.token ? [a!.token] : [], markers: a!.marker ? [a!.marker] : [] }));
    }
  });

  it('store operations on hostile ids match MemoryStore: revoke, revokeToken lineage, logout, remove', async () => {
    const tree = nastyTree();
    const memory = new MemoryStore();
    const redis = fx.store();
    await memory.load(structuredClone(tree), () => ROUTE);
    await redis.load(structuredClone(tree), () => ROUTE);
    for (const [i, s] of NASTY.entries()) {
      const path = { route: ROUTE, userId: `${s}-user`, clientId: s, grantId: `${s}-grant` };
      const ops: Array<(st: MemoryStore | RedisStore) => Promise<unknown>> = [
        (st) => st.revokeToken(path, `${s}-code`),
        (st) => st.removeBrowserSession(ROUTE, path.userId, s),
        (st) => st.addBrowserSession(ROUTE, path.userId, { id: `${s}\t2`, createdAt: T, expiresAt: T + 5, epoch: 0 }),
        (st) => (i % 2 ? st.revokeGrant(path) : st.revokeClient(ROUTE, path.userId, s)),
        (st) => st.logoutUser(ROUTE, path.userId, { keepOffline: i % 2 === 0, now: T }),
        (st) => st.getClient(ROUTE, path.userId, s),
        (st) => st.listGrants(ROUTE, path.userId, s),
        (st) => st.listTokens(path),
        (st) => (i % 3 ? st.remove({ ...path, grantId: undefined }) : st.remove(path)),
      ];
      for (const op of ops) {
        const [a, b] = [await op(memory), await op(redis)];
        assert.deepEqual(plain(b), plain(a), `${JSON.stringify(s)}: ${op.toString()}`);
      }
    }
    assert.deepEqual(canonicalDump(await redis.dump()), canonicalDump(await memory.dump()));
  });

  it('a user hash that belongs to another user id (a hash collision) is refused, not shared', async () => {
    const redis = fx.store();
    const m = makeManager(redis, new TestClock());
    await codeFlow(m, 'alice', 'app'); // learn alice's route and key
    const key = (await allKeys(fx.client, redis.prefix)).find((k) => k.endsWith(`u:${userHash('alice')}`))!;
    const route = key.slice(key.indexOf('{') + 1, key.indexOf('}'));
    await fx.client.hSet(key, 'u', `0\t${T}\tmallory`); // as if mallory's id hashed to alice's key
    const before = await fx.client.hGetAll(key);
    const g = (await redis.dump()).grants;
    assert.equal(g.length, 1);
    await assert.rejects(redis.createGrant(route, { ...g[0]!, id: 'new-grant', userId: 'alice' }, T), InvalidInput);
    await assert.rejects(redis.addBrowserSession(route, 'alice', { id: 'b', createdAt: T, expiresAt: T + 1, epoch: 0 }), InvalidInput);
    assert.deepEqual(await fx.client.hGetAll(key), before, 'nothing was written');
    assert.equal(await redis.getUser(route, 'alice'), undefined, "mallory's node is not handed out as alice's");
    assert.equal(await redis.logoutUser(route, 'alice', { keepOffline: false, now: T }), undefined);
  });

  it('a forged route (hash-tag characters, too long) resolves nothing and sends nothing', async () => {
    const redis = fx.store();
    for (const route of ['a}b', '{x}', '', 'x'.repeat(40), 'a b']) {
      assert.equal(await redis.findToken(route, hashTokenValue('v')), undefined);
      assert.deepEqual(await redis.consume(route, hashTokenValue('v'), { tokenId: 't', now: T, mint: [], onReuse: 'grant', graceMs: 0 }), { status: 'unknown' });
      await assert.rejects(redis.getUser(route, 'u'), InvalidInput);
    }
    assert.deepEqual(await allKeys(fx.client, redis.prefix), []);
  });

  it('checks its options', () => {
    assert.throws(() => new RedisStore(undefined as never), InvalidInput);
    assert.throws(() => new RedisStore({ client: fx.client, prefix: 'a{b' }), InvalidInput);
    assert.throws(() => new RedisStore({ client: fx.client, prefix: 'a}' }), InvalidInput);
    assert.throws(() => new RedisStore({ client: fx.client, commandTimeout: 0 }), InvalidInput);
    assert.throws(() => new RedisStore({ client: fx.client, commandTimeout: Number.NaN }), InvalidInput);
    assert.throws(() => new RedisStore({ client: fx.client, clock: 5 as never }), InvalidInput);
    assert.equal(new RedisStore({ client: fx.client }).prefix, 'oidc:');
  });

  for (const [name, options] of [
    ['a client that maps replies to Buffers', { commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } } }],
    ['a RESP3 client', { RESP: 3 as const }],
  ] as const) {
    it(`works with ${name}`, async () => {
      const client = createClient({ url: fx.server.url, ...options });
      client.on('error', () => {});
      await client.connect();
      try {
        const store = new RedisStore({ client, prefix: uniquePrefix() });
        const m = makeManager(store, new TestClock());
        const f = await codeFlow(m, 'alice', 'app');
        assert.equal((await m.validateToken(f.access)).userId, 'alice');
        assert.equal((await m.listUserSessions('alice')).clients.length, 1);
        assert.equal((await m.refresh(f.refresh!, { clientId: 'app' })).session.userId, 'alice');
        assert.equal(await m.introspect('AbCnothing').then((r) => r.active), false);
        assert.deepEqual((await store.dump()).users.map((u) => u.userId), ['alice']);
        await m.removeSession(f.sessionId);
        await assert.rejects(m.getSessionInfo(f.sessionId), UnknownSession);
      } finally {
        await client.close();
      }
    });
  }
});

describe('RedisStore mints on remembered grants only while they are current', function () {
  this.timeout(30_000);
  const fx = singleServerPerSuite();

  /** Two processes on one Redis: the same prefix, a store and a manager each. */
  function twoProcesses() {
    const prefix = uniquePrefix();
    const clock = new TestClock();
    const stores = [fx.store({ prefix }), fx.store({ prefix })] as const;
    return { stores, a: makeManager(stores[0], clock), b: makeManager(stores[1], clock) };
  }

  it('a grant revoked, its client session revoked or the grant removed elsewhere is seen: refused, nothing written', async () => {
    for (const change of ['revokeGrant', 'revokeClientSession', 'removeSession'] as const) {
      const { stores, a, b } = twoProcesses();
      const sid = await newSession(a, 'alice', 'app'); // a remembers the grant as active
      await b[change](sid);
      const before = canonicalDump(await stores[0].dump());
      await assert.rejects(a.mintToken(sid, 'authorization_code'), change === 'removeSession' ? UnknownSession : MintingNotAllowed, change);
      assert.deepEqual(canonicalDump(await stores[0].dump()), before, `${change}: nothing written`);
    }
  });

  it('a logout elsewhere (new epoch) is seen: the token is minted on the current user record, so it is active', async () => {
    const { a, b } = twoProcesses();
    const sid = await newSession(a, 'alice', 'app');
    await b.logoutUser('alice', { keepOffline: true });
    const at = await a.mintToken(sid, 'access_token');
    assert.equal(at.token.epoch, 1);
    assert.equal((await b.validateToken(at.value)).userId, 'alice');
  });

  it('records that change on every attempt: after a few conditional writes it writes on a fresh read, as getGrant + addTokens do', async () => {
    const { stores, a, b } = twoProcesses();
    const sid = await newSession(a, 'alice', 'app');
    const first = await a.mintToken(sid, 'access_token');
    const t = first.token;
    const path = { route: routeOfToken(first.value), userId: t.userId, clientId: t.clientId, grantId: t.grantId };
    let calls = 0;
    const written = await stores[0].mintFromGrant(path, async (ctx) => {
      calls++;
      assert.equal(ctx.grant.id, t.grantId);
      await b.startBrowserSession('alice', { validFor: 60, id: `browser-${calls}` }); // the user record changes under us
      return [{ ...t, id: `t-${calls}`, hash: hashTokenValue(`value-${calls}`) }];
    });
    assert.equal(written, true);
    assert.equal(calls, 4);
    const ids = (await stores[1].listTokens(path)).map((x) => x.id).sort();
    assert.deepEqual(ids, [t.id, 't-4'].sort(), 'only the last build is written');
  });

  it('a grant that does not exist: false, build never called, nothing written', async () => {
    const { stores, a } = twoProcesses();
    const sid = await newSession(a, 'alice', 'app');
    const at = await a.mintToken(sid, 'access_token');
    const path = { route: routeOfToken(at.value), userId: 'alice', clientId: 'app', grantId: 'no-such-grant' };
    let calls = 0;
    assert.equal(await stores[1].mintFromGrant(path, async () => (calls++, [at.token])), false);
    assert.equal(calls, 0);
  });
});

describe('RedisStore encoding (property tests)', () => {
  const anyString = fc.string({ unit: 'grapheme', maxLength: 40 });
  const id = fc.oneof(anyString.filter((s) => s.length > 0), fc.constantFrom(...NASTY));

  it('escaping is injective and reversible', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ unit: 'binary', maxLength: 60 }), (a, b) => {
        assert.equal(unesc(esc(a)), a);
        assert.ok(!/[\t\n]/.test(esc(a)));
        if (a !== b) assert.notEqual(esc(a), esc(b));
      }),
      { numRuns: 2000 },
    );
  });

  it('user, grant, token and marker records decode to what was encoded', () => {
    fc.assert(
      fc.property(id, id, id, id, fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 1e15 }), (userId, clientId, grantId, tokenId, time) => {
        const user: UserRecord = { userId, epoch: 3, createdAt: time, browserSessions: { [tokenId]: { id: tokenId, createdAt: time, expiresAt: time + 1, epoch: 3 } } };
        assert.deepEqual(decodeUser(encodeUser(user)), user);
        const tree = nastyTree();
        const grant: GrantRecord = { ...tree.grants[1]!, id: grantId, userId, clientId, issuedAt: time, notBefore: time, expiresAt: time + 0.5 };
        const g = encodeGrant(grant);
        assert.deepEqual(decodeGrant(`${g.head}\t7${g.body}`, userId), grant);
        const token: TokenRecord = { ...tree.tokens[1]!, id: tokenId, grantId, userId, clientId, basedOn: grantId, familyId: tokenId, class: clientId, usedAt: time };
        const e = encodeToken(token, 'U', 'G');
        assert.deepEqual(decodeToken(e.pre + e.scope + e.post, token.hash, grant), token);
        const marker: ReuseMarker = { ...tree.markers[0]!, tokenId, grantId, userId, clientId, class: grantId, familyId: clientId, usedAt: time };
        assert.deepEqual(decodeMarker(encodeMarker(marker, 'U', 'G'), marker.hash, grant), marker);
      }),
      { numRuns: 300 },
    );
  });
});

describe('RedisStore decoded records are shared, so they are values', () => {
  /** Every object reachable from `v` is frozen. */
  function assertDeepFrozen(v: unknown, path = 'record'): void {
    if (v === null || typeof v !== 'object') return;
    assert.ok(Object.isFrozen(v), `${path} is frozen`);
    for (const k of Object.keys(v)) assertDeepFrozen((v as Record<string, unknown>)[k], `${path}.${k}`);
  }

  it('a decoded grant and user are frozen all the way down (claims, request and unknown fields too)', () => {
    const tree = nastyTree();
    for (const base of tree.grants.slice(0, 6)) {
      const grant = { ...base, futureGrantField: { a: [1, { b: 'x' }] } } as GrantRecord;
      const g = encodeGrant(grant);
      const v = `${g.head}\t1${g.body}`;
      assertDeepFrozen(decodeGrant(v, grant.userId));
      assertDeepFrozen(grantOf(v, grant.userId));
      const u = tree.users.find((x) => x.userId === grant.userId)!;
      assertDeepFrozen(userOf(encodeUser(u)));
    }
  });

  it('a remembered grant is handed out only for the user it was decoded for', () => {
    const grant = nastyTree().grants[2]!;
    const g = encodeGrant(grant);
    const v = `${g.head}\t1${g.body}`;
    assert.equal(grantOf(v, grant.userId), grantOf(v, grant.userId), 'the second lookup is the remembered record');
    const other = grantOf(v, 'someone else');
    assert.equal(other.userId, 'someone else');
    assert.deepEqual({ ...other, userId: grant.userId, authnEvent: null }, { ...grantOf(v, grant.userId), authnEvent: null });
  });
});

describe('RedisStore encoding: fields it does not know yet', () => {
  it('a field added to a record type later travels as-is instead of being dropped', () => {
    const tree = nastyTree();
    const grant = { ...tree.grants[0]!, futureGrantField: { a: [1, 'x'] }, authnEvent: { ...tree.grants[0]!.authnEvent, futureAuthn: 2 } } as GrantRecord;
    const g = encodeGrant(grant);
    assert.deepEqual(decodeGrant(`${g.head}\t1${g.body}`, grant.userId), grant);
    const token = {
      ...tree.tokens[0]!,
      futureTokenField: 'v',
      usageRules: { ...tree.tokens[0]!.usageRules, futureRule: true },
      codeBinding: { ...tree.tokens[0]!.codeBinding, futureBinding: 1 },
    } as TokenRecord;
    const e = encodeToken(token, 'U', 'G');
    assert.deepEqual(decodeToken(e.pre + e.scope + e.post, token.hash, grant), token);
  });
});

describe('RedisStore on a 3-master cluster: one user, one slot', function () {
  this.timeout(60_000);
  const fx = threeMastersPerSuite();

  it("every key of a user hashes to the user's slot; users spread over the masters", async () => {
    const store = fx.store();
    const m = makeManager(store, new TestClock());
    for (let i = 0; i < 30; i++) {
      const f = await codeFlow(m, `user-${i}`, 'app');
      await m.refresh(f.refresh!, { clientId: 'app' });
    }
    const keys = await allKeys(fx.client, store.prefix);
    const slotOf = (k: string) => fx.client.sendCommand(k, true, ['CLUSTER', 'KEYSLOT', k]) as Promise<number>;
    const byRoute = new Map<string, Set<number>>();
    for (const k of keys) {
      const route = k.slice(k.indexOf('{') + 1, k.indexOf('}'));
      if (!byRoute.has(route)) byRoute.set(route, new Set());
      byRoute.get(route)!.add(await slotOf(k));
    }
    assert.equal(byRoute.size, 30);
    for (const slots of byRoute.values()) assert.equal(slots.size, 1);
    // The keys live on more than one master, and dump still sees all of them.
    const perNode = await Promise.all(fx.client.masters.map(async (n) => (await fx.client.nodeClient(n)).dbSize()));
    assert.ok(perNode.filter((n) => n > 0).length >= 2, `keys per master: ${perNode.join(', ')}`);
    const d = await store.dump();
    assert.equal(d.users.length, 30);
    assert.equal(d.tokens.filter((t) => t.class === 'refresh_token').length, 30);
  });
});
