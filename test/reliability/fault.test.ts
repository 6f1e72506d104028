/**
 * Fault injection (issue 7 item 3): the example provider on Redis (tree in RedisStore, browser
 * sessions in connect-redis, one node-redis client — exactly what REDIS_URL selects) serves a
 * bounded loop of real flows (login through the HTML forms, consent, code exchange, userinfo,
 * refresh, introspection through openid-client) from several workers. Redis is killed (SIGKILL)
 * for a few seconds and started again on the same port with its append-only file.
 *
 * Expected: while Redis is down every answer that needs a store is 503 (no other 5xx, nothing
 * beyond the time bound); afterwards the same app, never restarted, completes flows again and
 * honours tokens issued before the outage; the audit of the tree and of every Redis key finds
 * nothing wrong.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as oidc from 'openid-client';
import { createProviderApp } from '../../examples/provider/app.js';
import { generateKeys } from '../../examples/provider/keys.js';
import { connectRedis, type RedisStores } from '../../examples/provider/redis.js';
import { startRedis, type RedisInstance } from '../helpers/redis-server.js';
import { Agent } from '../examples/helpers/agent.js';
import { signIn } from '../examples/helpers/flows.js';
import { USERS } from '../examples/helpers/provider.js';
import { connect, type Client } from '../redis/helpers.js';
import { auditDump, auditRedisKeys } from './audit.js';

const SECRET = 'fault-app-secret-0123456789';
const REDIRECT = 'http://127.0.0.1:9/callback';
const PREFIX = 'op-fault:';
/** No request may take longer (the tree store answers within 1 s; the rest fails at once while disconnected). */
const BOUND_MS = 3000;
const OUTAGE_MS = 3000;
const WORKERS = 4;
/** The loop is bounded in flows as well as in time. */
const MAX_FLOWS_PER_WORKER = 60;
/** Paths whose answers never need a store (metadata and keys). */
const STORE_FREE = new Set(['/.well-known/openid-configuration', '/jwks']);

interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly start: number;
  end?: number;
  /** The status sent, 0 when the connection closed before any answer. */
  status?: number;
}

describe('reliability: the example provider on Redis through a Redis outage', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let stores: RedisStores;
  let reader: Client;
  let server: Server;
  let issuer: string;
  let manager: Awaited<ReturnType<typeof createProviderApp>>['manager'];
  const exchanges: Exchange[] = [];
  const logs: string[] = [];

  before(async () => {
    // With an append-only file synced on every write, SIGKILL loses nothing acknowledged.
    redis = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
    const log = { info: (m: string) => logs.push(`info: ${m}`), warn: (m: string) => logs.push(`warn: ${m}`), error: (m: string) => logs.push(`error: ${m}`) };
    stores = await connectRedis(redis.url, log, PREFIX);
    reader = await connect(redis.url);
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const op = await createProviderApp({
      issuer,
      keys: await generateKeys(),
      users: USERS,
      clients: [{ client_id: 'app', client_secret: SECRET, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'] }],
      treeStore: stores.treeStore,
      sessionStore: stores.sessionStore,
      logger: log,
    });
    manager = op.manager;
    // Every exchange is recorded where it is answered: status and time taken.
    server.on('request', (req, res) => {
      const x: Exchange = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, start: performance.now() };
      exchanges.push(x);
      res.on('finish', () => {
        x.end ??= performance.now();
        x.status = res.statusCode;
      });
      // express-session sends the head of a response before saving the session; a browser that
      // follows a redirect at once closes the connection before the last byte: answered all the same.
      res.on('close', () => {
        x.end ??= performance.now();
        x.status ??= res.headersSent ? res.statusCode : 0;
      });
      op.app(req, res);
    });
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await reader?.close().catch(() => {});
    await stores?.close();
    await redis?.stop();
  });

  it('only 503s while Redis is down, full recovery without a restart, and a clean audit', async () => {
    const app = await oidc.discovery(new URL(issuer), 'app', undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    app.timeout = BOUND_MS / 1000 + 2; // a hung request fails the flow instead of stalling the worker

    let stop = false;
    const completed: number[] = []; // completion times of whole flows
    const failures: string[] = [];
    const held: Array<{ access: string; refresh: string; at: number }> = [];
    const worker = async (w: number) => {
      for (let i = 0; i < MAX_FLOWS_PER_WORKER && !stop; i++) {
        try {
          const agent = new Agent();
          const who = USERS[2 + ((w * MAX_FLOWS_PER_WORKER + i) % 200)]!;
          const { tokens, claims } = await signIn(agent, app, REDIRECT, { username: who.username, password: who.password }, { scope: 'openid profile offline_access' });
          assert.equal((await oidc.fetchUserInfo(app, tokens.access_token, claims.sub)).sub, claims.sub);
          const next = await oidc.refreshTokenGrant(app, tokens.refresh_token!);
          assert.equal((await oidc.tokenIntrospection(app, next.access_token)).active, true);
          held.push({ access: next.access_token, refresh: next.refresh_token!, at: performance.now() });
          completed.push(performance.now());
        } catch (e) {
          failures.push(`${(e as Error).name}: ${(e as Error).message.slice(0, 120)}`);
          await new Promise((r) => setTimeout(r, 100)); // failing fast: don't spin
        }
      }
    };
    const waitFor = async (cond: () => boolean, ms: number, what: string) => {
      const deadline = Date.now() + ms;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const running = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await waitFor(() => completed.length >= 6, 30_000, 'flows before the outage');
    const before = held.slice(0, 3);

    const downAt = performance.now();
    await redis.kill();
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    const restartAt = performance.now();
    await redis.restart(); // same port, same append-only file
    const upAt = performance.now();
    const doneBefore = completed.length;
    await waitFor(() => completed.filter((t) => t > upAt).length >= 6, 40_000, 'flows after the outage');
    stop = true;
    await running;
    await waitFor(() => exchanges.every((x) => x.end !== undefined), BOUND_MS, 'open requests to finish').catch((e: Error) => {
      const open = exchanges.filter((x) => x.end === undefined).map((x) => `${x.method} ${x.path} started ${Math.round(x.start - downAt)} ms after the kill`);
      throw new Error(`${e.message}: ${open.join('; ')}`);
    });

    // 1. Nothing but 503 as a server error, and no answer slower than the bound.
    const serverErrors = exchanges.filter((x) => x.status! >= 500 && x.status !== 503);
    assert.deepEqual(serverErrors.map((x) => `${x.method} ${x.path} ${x.status}`), [], 'no 5xx but 503');
    const slow = exchanges.filter((x) => x.end! - x.start > BOUND_MS);
    assert.deepEqual(slow.map((x) => `${x.method} ${x.path} ${Math.round(x.end! - x.start)} ms`), [], `every answer within ${BOUND_MS} ms`);
    // 2. While Redis was down (the whole exchange inside the outage): 503 for everything that needs a store.
    const during = exchanges.filter((x) => x.start > downAt + 100 && x.end! < restartAt);
    const wrong = during.filter((x) => x.status !== 503 && !STORE_FREE.has(x.path));
    assert.deepEqual(wrong.map((x) => `${x.method} ${x.path} ${x.status}`), [], 'only 503 while Redis is down');
    const unavailable = exchanges.filter((x) => x.status === 503).length;
    assert.ok(during.length >= 10 && unavailable >= 10, `the outage was felt (${during.length} exchanges during it, ${unavailable} answered 503)`);
    // 3. Recovery, same app: new flows complete, and what was issued before the outage still works.
    const after = completed.filter((t) => t > upAt).length;
    assert.ok(after >= 6);
    for (const h of before) {
      assert.equal((await oidc.tokenIntrospection(app, h.access)).active, true, 'an access token from before the outage is still active');
    }
    const refreshed = await oidc.refreshTokenGrant(app, before[0]!.refresh);
    assert.equal((await oidc.tokenIntrospection(app, refreshed.access_token)).active, true, 'a refresh token from before the outage still rotates');
    // 4. The audit: the tree (through a dump) and every key under the tree's prefix.
    const now = Date.now();
    const tree = auditDump(await manager.dump(), now, { singleRedemption: true, singleRefreshPerFamily: true });
    const keys = await auditRedisKeys(reader, `${PREFIX}tree:`, now);
    assert.deepEqual([...tree.violations, ...keys.violations], [], 'the audit finds nothing wrong');
    assert.ok(tree.counts.grants >= completed.length, 'every completed flow left its grant');
    assert.deepEqual(logs.filter((l) => l.startsWith('error:')), [], 'no unexpected error logged');

    console.log(
      `      ${exchanges.length} HTTP exchanges, ${completed.length} flows (${doneBefore} before the outage, ${after} after), ` +
        `${failures.length} flows cut by the outage; 1 fault injected: Redis down ${Math.round(upAt - downAt)} ms; ` +
        `${during.length} exchanges while down (${unavailable} answered 503 overall); slowest answer ${Math.round(Math.max(...exchanges.map((x) => x.end! - x.start)))} ms; ` +
        `audit: ${tree.counts.grants} grants, ${tree.counts.tokens} tokens, ${tree.counts.markers} markers, ${keys.counts.keys} keys, 0 violations`,
    );
  });
});
