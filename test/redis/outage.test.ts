/**
 * Redis outages (SPEC §6): while Redis is down, hung or unreachable every call rejects with
 * StoreUnavailable within the configured bound; no operation is left half-written (checked
 * after a crash with an append-only file that survives SIGKILL); when Redis is back the same
 * manager — not a new one — works again.
 */
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { OidcSessionsError, StoreUnavailable } from '../../src/errors.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { TreeDump } from '../../src/store/store.js';
import { TestClock, codeFlow, makeManager } from '../conformance/harness.js';
import { startRedis, type RedisInstance } from '../helpers/redis-server.js';
import { allKeys, connect, uniquePrefix, type Client } from './helpers.js';

/** Slack on top of the bound for a loaded 2-core CI machine (timers, GC). */
const SLACK_MS = 400;

interface Call {
  start: number;
  end: number;
  error?: unknown;
}

/** Workers running whole flows (login, code, exchange, refresh, validate) until stopped. */
function workload(m: SessionManager, workers: number) {
  const calls: Call[] = [];
  let running = true;
  let n = 0;
  let flows = 0;
  const timed = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    const c: Call = { start: Date.now(), end: 0 };
    calls.push(c);
    try {
      return await fn();
    } catch (e) {
      c.error = e;
      return undefined;
    } finally {
      c.end = Date.now();
    }
  };
  const worker = async (w: number) => {
    while (running) {
      const user = `user-${w}-${n++ % 5}`;
      const sid = await timed(() => m.createSession({ userId: user, authnEvent: {}, authRequest: { client_id: 'app', scope: 'openid offline_access' } }));
      const code = sid === undefined ? undefined : await timed(() => m.mintToken(sid, 'authorization_code'));
      const set = code === undefined ? undefined : await timed(() => m.redeemCode(code.value, { clientId: 'app' }));
      const rt = set?.refreshToken?.value;
      const next = rt === undefined ? undefined : await timed(() => m.refresh(rt, { clientId: 'app' }));
      if (next) {
        await timed(() => m.validateToken(next.accessToken.value));
        flows++;
      } else await new Promise((r) => setTimeout(r, 10)); // failing fast: don't spin
    }
  };
  const done = Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return {
    calls,
    /** Resolves once `count` whole flows have completed (however loaded the machine is). */
    flowsDone: async (count: number) => {
      const deadline = Date.now() + 20_000;
      while (flows < count) {
        assert.ok(Date.now() < deadline, `only ${flows} flows completed`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * Every call that overlapped the outage failed with StoreUnavailable within the bound (counted
 * from the moment the outage began); nothing else was thrown; no call made entirely while Redis
 * was dead (from `deadAt`, when the process had exited, to `upAt`) succeeded.
 */
function checkOutage(calls: readonly Call[], downAt: number, deadAt: number, upAt: number, boundMs: number): number {
  let failed = 0;
  for (const c of calls) {
    if (c.error !== undefined) {
      assert.ok(c.error instanceof StoreUnavailable, `a call failed with ${(c.error as Error).name}: ${(c.error as Error).message}`);
      assert.ok(c.error instanceof OidcSessionsError && c.error.status === 503);
      failed++;
    }
    if (c.start >= deadAt && c.end <= upAt) assert.ok(c.error !== undefined, 'a call succeeded while Redis was down');
    const waited = c.end - Math.max(c.start, downAt);
    if (c.end > downAt) assert.ok(waited <= boundMs + SLACK_MS, `a call took ${waited} ms into the outage (bound ${boundMs} ms)`);
  }
  return failed;
}

/** Retries `fn` until it succeeds (the client reconnects on its own), failing after `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      assert.ok(e instanceof StoreUnavailable, `unexpected ${(e as Error).name}`);
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The tree is whole: every consumed code produced exactly one access and one refresh token, no
 * unused code produced anything, every refresh family has exactly one unused refresh token, and
 * every token key in Redis is in the tree (no key left outside the index).
 */
async function checkWhole(d: TreeDump, client: Client, prefix: string): Promise<void> {
  const children = (id: string) => d.tokens.filter((t) => t.basedOn === id);
  for (const mk of d.markers.filter((x) => x.class === 'authorization_code')) {
    const kids = children(mk.tokenId).map((t) => t.class);
    assert.ok(kids.filter((c) => c === 'access_token').length === 1, `a used code has ${kids.join(',') || 'no tokens'}`);
  }
  for (const code of d.tokens.filter((t) => t.class === 'authorization_code')) {
    assert.equal(children(code.id).length, 0, 'an unused code has minted tokens');
  }
  const families = new Set([...d.tokens, ...d.markers].filter((t) => t.class === 'refresh_token').map((t) => t.familyId!));
  for (const f of families) {
    const live = d.tokens.filter((t) => t.class === 'refresh_token' && t.familyId === f);
    assert.equal(live.length, 1, `refresh family with ${live.length} unused tokens`);
  }
  const known = new Set([...d.tokens, ...d.markers].map((t) => t.hash));
  const tokenKeys = (await allKeys(client, prefix)).filter((k) => k.includes('}t:'));
  for (const k of tokenKeys) assert.ok(known.has(k.slice(k.indexOf('}t:') + 3)), 'a token key outside the tree');
}

describe('RedisStore: outages', function () {
  this.timeout(60_000);
  let server: RedisInstance | undefined;
  const clients: Client[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
    await server?.stop();
    server = undefined;
  });

  it('kill -9 mid-run (recommended client options, default 1 s bound): fast StoreUnavailable, nothing half written, then works again', async () => {
    // An append-only file synced on every write survives SIGKILL, so the state after the crash
    // can be checked for half-applied operations.
    server = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    const client = await connect(server.url);
    clients.push(client);
    const admin = await connect(server.url);
    const prefix = uniquePrefix();
    const store = new RedisStore({ client, prefix }); // commandTimeout: the default
    const m = makeManager(store, { now: 0, read: Date.now } as unknown as TestClock);

    const load = workload(m, 8);
    await load.flowsDone(40);
    const downAt = Date.now();
    await server.kill();
    const deadAt = Date.now();
    await admin.close().catch(() => {});
    await new Promise((r) => setTimeout(r, 1500));
    const restartAt = Date.now();
    await server.restart();
    // The same manager, the same client: service resumes once the client has reconnected.
    await eventually(() => codeFlow(m, 'after', 'app'));
    await load.stop();

    const failed = checkOutage(load.calls, downAt, deadAt, restartAt, 1000);
    assert.ok(failed > 20, `only ${failed} calls met the outage`);
    assert.ok(load.calls.filter((c) => c.end < downAt && !c.error).length > 20, 'the run did real work before the outage');

    const check = await connect(server.url);
    clients.push(check);
    const d = await store.dump();
    assert.ok(d.grants.length > 10 && d.markers.length > 10, 'the tree survived the restart');
    await checkWhole(d, check, prefix);
  });

  it('kill with a default client (offline queue on) and a 300 ms bound: queued calls are cut off at the bound', async () => {
    server = await startRedis();
    const client = createClient({ url: server.url }); // node-redis defaults: commands queue while disconnected
    client.on('error', () => {});
    await client.connect();
    clients.push(client as Client);
    const store = new RedisStore({ client, prefix: uniquePrefix(), commandTimeout: 300 });
    const m = makeManager(store, { now: 0, read: Date.now } as unknown as TestClock);
    const f = await codeFlow(m, 'alice', 'app');

    const load = workload(m, 4);
    await load.flowsDone(10);
    const downAt = Date.now();
    await server.kill();
    const deadAt = Date.now();
    const during = await Promise.allSettled([m.validateToken(f.access), m.refresh(f.refresh!, { clientId: 'app' }), m.getUserInfo('alice')]);
    for (const r of during) assert.ok(r.status === 'rejected' && r.reason instanceof StoreUnavailable);
    await new Promise((r) => setTimeout(r, 1000));
    const restartAt = Date.now();
    await server.restart(); // empty: nothing is persisted in this run
    await eventually(() => codeFlow(m, 'after', 'app'));
    await load.stop();
    assert.ok(checkOutage(load.calls, downAt, deadAt, restartAt, 300) > 5);
  });

  it('a hung server (CLIENT PAUSE): calls time out at the bound instead of waiting, then the same manager works again', async () => {
    server = await startRedis();
    const client = await connect(server.url);
    const admin = await connect(server.url);
    clients.push(client, admin);
    const prefix = uniquePrefix();
    const store = new RedisStore({ client, prefix, commandTimeout: 300 });
    const m = makeManager(store, { now: 0, read: Date.now } as unknown as TestClock);
    const f = await codeFlow(m, 'alice', 'app');

    const load = workload(m, 4);
    await load.flowsDone(10);
    const downAt = Date.now();
    await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL']);
    const t0 = Date.now();
    await assert.rejects(m.validateToken(f.access), StoreUnavailable);
    const waited = Date.now() - t0;
    assert.ok(waited >= 250 && waited <= 300 + SLACK_MS, `validateToken gave up after ${waited} ms`);
    await new Promise((r) => setTimeout(r, 1600));
    const upAt = Date.now();
    assert.equal((await m.validateToken(f.access)).userId, 'alice');
    await load.stop();
    // Calls cut off during the pause may still have run when it ended; either way, whole. A paused
    // server answers late rather than never, so there is no window in which every call must fail.
    checkOutage(load.calls, downAt, Number.POSITIVE_INFINITY, upAt, 300);
    assert.ok(load.calls.some((c) => c.start >= downAt && c.end < upAt && c.error instanceof StoreUnavailable));
    await checkWhole(await store.dump(), client, prefix);
  });
});
