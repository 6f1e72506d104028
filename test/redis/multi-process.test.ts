/**
 * Two Node processes share one Redis (SPEC §5, field fault 7): 10 concurrent redemptions of one
 * code — 5 from each process, released together by a start barrier — and exactly one succeeds;
 * 200 trials. The same for a rotating refresh token. The losers mint nothing.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import { TestClock, codeFlow, makeManager, newSession, routeOfToken } from '../conformance/harness.js';
import { singleServer, uniquePrefix, type SingleFixture } from './helpers.js';

const CONTENDER = fileURLToPath(new URL('./fixtures/contender.ts', import.meta.url));
const TRIALS = 200;
const PER_PROCESS = 5;

type Result = { ok: true } | { ok: false; name: string; revoked?: string };

class Contender {
  readonly child: ChildProcess;
  #waiters: Array<{ type: string; resolve: (msg: { results?: Result[] }) => void }> = [];
  constructor(env: NodeJS.ProcessEnv) {
    this.child = fork(CONTENDER, [], { execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (msg: { type: string; results?: Result[] }) => {
      const i = this.#waiters.findIndex((w) => w.type === msg.type);
      if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(msg);
    });
  }
  next(type: string): Promise<{ results?: Result[] }> {
    return new Promise((resolve) => this.#waiters.push({ type, resolve }));
  }
  send(msg: object): void {
    this.child.send(msg);
  }
}

describe('RedisStore: two processes, one Redis', function () {
  this.timeout(180_000);
  let fx: SingleFixture;
  let prefix: string;
  let m: SessionManager;
  let store: RedisStore;
  let procs: Contender[] = [];

  before(async () => {
    fx = await singleServer();
    prefix = uniquePrefix();
    store = new RedisStore({ client: fx.client, prefix });
    m = makeManager(store, { now: 0, read: Date.now, advance() {}, advanceSeconds() {} } as unknown as TestClock);
    procs = [0, 1].map(() => new Contender({ ...process.env, REDIS_URL: fx.server.url, PREFIX: prefix }));
    await Promise.all(procs.map((p) => p.next('ready')));
  });
  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null) {
        const exited = new Promise((r) => p.child.once('exit', r));
        p.send({ type: 'exit' });
        await exited;
      }
    }
    await fx?.stop();
  });

  /** Both processes fire `PER_PROCESS` calls with `value` at the same wall-clock moment. */
  async function race(op: 'redeem' | 'refresh', value: string): Promise<Result[]> {
    const armed = procs.map((p) => p.next('armed'));
    for (const p of procs) p.send({ type: 'arm', op, value, n: PER_PROCESS });
    await Promise.all(armed);
    const done = procs.map((p) => p.next('done'));
    const at = Date.now() + 15;
    for (const p of procs) p.send({ type: 'go', at });
    return (await Promise.all(done)).flatMap((d) => d.results!);
  }

  /** The grant a session id names, in the route of one of its token values. */
  const grantPath = (sid: string, value: string) => {
    const p = m.openSessionId(sid);
    return { route: routeOfToken(value), userId: p.userId, clientId: p.clientId!, grantId: p.grantId! };
  };

  it(`code redemption: exactly one of ${2 * PER_PROCESS} succeeds, in each of ${TRIALS} trials`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const sid = await newSession(m, `user-${trial % 7}`, 'app');
      const code = await m.mintToken(sid, 'authorization_code');
      const results = await race('redeem', code.value);
      assert.equal(results.filter((r) => r.ok).length, 1, `trial ${trial}: ${JSON.stringify(results)}`);
      assert.ok(results.every((r) => r.ok || r.name === 'TokenReused'), `trial ${trial}: ${JSON.stringify(results)}`);
      // The winner's set was written once; the losers wrote nothing.
      const tokens = await store.listTokens(grantPath(sid, code.value));
      assert.deepEqual(tokens.map((t) => t.class).sort(), ['access_token', 'refresh_token'], `trial ${trial}`);
    }
  });

  it(`refresh rotation: exactly one of ${2 * PER_PROCESS} succeeds, in each of ${TRIALS} trials`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const f = await codeFlow(m, `user-${trial % 7}`, 'app');
      const results = await race('refresh', f.refresh!);
      assert.equal(results.filter((r) => r.ok).length, 1, `trial ${trial}: ${JSON.stringify(results)}`);
      // Losers inside the grace window: TokenReused that revokes nothing.
      assert.ok(results.every((r) => r.ok || (r.name === 'TokenReused' && r.revoked === 'nothing')), `trial ${trial}: ${JSON.stringify(results)}`);
      const tokens = await store.listTokens(grantPath(f.sessionId, f.refresh!));
      // The code's access token, the winner's access token and the one successor refresh token.
      assert.deepEqual(tokens.map((t) => t.class).sort(), ['access_token', 'access_token', 'refresh_token'], `trial ${trial}`);
      assert.ok(tokens.every((t) => !t.revoked));
    }
  });
});
