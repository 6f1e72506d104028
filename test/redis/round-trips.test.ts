/**
 * Round trips per manager operation (SPEC §6): counted on the server with MONITOR, which shows
 * every command a client sends (commands run inside a script appear as `lua` and are not
 * counted). Targets: token lookup and validation 1, code redemption ≤ 2, refresh ≤ 2,
 * revokeGrant 1, createSession 1.
 */
import assert from 'node:assert/strict';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import { TestClock, codeFlow, makeManager, newSession } from '../conformance/harness.js';
import { connect, singleServer, uniquePrefix, type Client, type SingleFixture } from './helpers.js';

describe('RedisStore round trips per operation (MONITOR)', function () {
  this.timeout(30_000);
  let fx: SingleFixture;
  let client: Client;
  let monitor: Client;
  let m: SessionManager;
  let addr: string;
  const seen: string[] = [];
  const prefix = uniquePrefix();

  before(async () => {
    fx = await singleServer();
    // A client of its own, so that only the store's commands come from this address.
    client = await connect(fx.server.url);
    addr = (await client.clientInfo()).addr;
    monitor = await connect(fx.server.url);
    await monitor.monitor((line: string) => seen.push(line));
    m = makeManager(new RedisStore({ client, prefix }), new TestClock());
    await codeFlow(m, 'warm-up', 'app'); // scripts get loaded (EVAL) once; afterwards EVALSHA
  });
  after(async () => {
    await monitor?.close().catch(() => {});
    await client?.close().catch(() => {});
    await fx?.stop();
  });

  let markerNo = 0;
  /** Commands this client sent while `op` ran (MONITOR lines from our address, fenced by ECHO markers). */
  async function count<T>(op: () => Promise<T>): Promise<{ result: T; commands: string[] }> {
    const open = `fence-${++markerNo}`;
    const close = `fence-${++markerNo}`;
    await client.echo(open);
    const result = await op();
    await client.echo(close);
    const deadline = Date.now() + 5000;
    while (!seen.some((l) => l.includes(`"${close}"`))) {
      if (Date.now() > deadline) throw new Error('MONITOR did not show the closing fence');
      await new Promise((r) => setTimeout(r, 5));
    }
    const start = seen.findIndex((l) => l.includes(`"${open}"`));
    const end = seen.findIndex((l) => l.includes(`"${close}"`));
    const ours = seen.slice(start + 1, end).filter((l) => l.includes(` ${addr}]`));
    seen.length = 0;
    return { result, commands: ours.map((l) => /\] "([^"]+)"/.exec(l)?.[1]?.toLowerCase() ?? l) };
  }

  it('MONITOR fencing sees single commands (self-check)', async () => {
    const { commands } = await count(async () => {
      await client.get('a');
      await client.get('b');
    });
    assert.deepEqual(commands, ['get', 'get']);
  });

  it('createSession: 1 (one script)', async () => {
    const { commands } = await count(() => newSession(m, 'alice', 'app'));
    assert.deepEqual(commands, ['evalsha']);
  });

  it('validateToken, introspect and findToken: 1 each', async () => {
    const f = await codeFlow(m, 'bob', 'app');
    const ops: Array<() => Promise<unknown>> = [() => m.validateToken(f.access), () => m.introspect(f.access), () => m.findToken(f.sessionId, f.access)];
    for (const op of ops) {
      const { commands } = await count(op);
      assert.deepEqual(commands, ['evalsha']);
    }
  });

  it('redeemCode: 2 (find, then one atomic consume that writes the minted tokens)', async () => {
    const sid = await newSession(m, 'carol', 'app');
    const code = await m.mintToken(sid, 'authorization_code');
    const { commands, result } = await count(() => m.redeemCode(code.value, { clientId: 'app' }));
    assert.ok(result.refreshToken);
    assert.deepEqual(commands, ['evalsha', 'evalsha']);
  });

  it('refresh with rotation: 2', async () => {
    const f = await codeFlow(m, 'dave', 'app');
    const { commands, result } = await count(() => m.refresh(f.refresh!, { clientId: 'app' }));
    assert.notEqual(result.refreshToken?.value, f.refresh);
    assert.deepEqual(commands, ['evalsha', 'evalsha']);
  });

  it('revokeGrant: 1', async () => {
    const f = await codeFlow(m, 'erin', 'app');
    const { commands } = await count(() => m.revokeGrant(f.sessionId));
    assert.deepEqual(commands, ['evalsha']);
    assert.equal((await m.introspect(f.access)).active, false);
  });

  it('getSessionInfo: 1 (a single HMGET); mintToken: 1; logoutUser: 1', async () => {
    const sid = await newSession(m, 'fred', 'app');
    assert.deepEqual((await count(() => m.getSessionInfo(sid, { grant: true }))).commands, ['hmget']);
    assert.deepEqual((await count(() => m.mintToken(sid, 'access_token'))).commands, ['evalsha']);
    assert.deepEqual((await count(() => m.logoutUser('fred'))).commands, ['evalsha']);
  });

  it('mintToken from a grant: 1 when this store made or read it lately, 2 when not, 3 when it changed elsewhere since', async () => {
    const sid = await newSession(m, 'hank', 'app');
    // createSession's script hands back the records it wrote: the code takes one script.
    const code = await count(() => m.mintToken(sid, 'authorization_code'));
    assert.deepEqual(code.commands, ['evalsha']);
    assert.equal((await m.redeemCode(code.result.value, { clientId: 'app' })).session.userId, 'hank');
    // A store that never saw the grant (another process) reads it first.
    const other = makeManager(new RedisStore({ client, prefix }), new TestClock());
    assert.deepEqual((await count(() => other.mintToken(sid, 'access_token'))).commands, ['hmget', 'evalsha']);
    // The other process changed the user record (a logout): the conditional write refuses, and
    // the mint is decided again on what is now stored.
    await other.logoutUser('hank', { keepOffline: true });
    const after = await count(() => m.mintToken(sid, 'access_token'));
    assert.deepEqual(after.commands, ['evalsha', 'hmget', 'evalsha']);
    assert.equal((await m.validateToken(after.result.value)).userId, 'hank', 'minted on the new epoch, so active');
  });

  it('after SCRIPT FLUSH (as after a restart) one call pays: EVALSHA, EVAL, and every script reloaded in the background', async () => {
    const f = await codeFlow(m, 'gina', 'app');
    await fx.client.scriptFlush();
    const first = (await count(() => m.validateToken(f.access))).commands;
    assert.deepEqual(first.slice(0, 2), ['evalsha', 'eval']);
    assert.ok(first.length > 3 && first.slice(2).every((c) => c === 'script'), first.join(' '));
    assert.deepEqual((await count(() => m.validateToken(f.access))).commands, ['evalsha']);
    // Other operations were reloaded too: their first use after the flush is one round trip.
    assert.deepEqual((await count(() => m.revokeGrant(f.sessionId))).commands, ['evalsha']);
  });
});
