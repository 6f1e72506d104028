import assert from 'node:assert/strict';
import { InvalidInput, MemoryStore, RedisStore, type SessionManager, type SessionStore } from '../../src/index.js';
import { TestClock, authRequest, canonicalDump, makeManager } from '../conformance/harness.js';
import { singleServerPerSuite, uniquePrefix } from './helpers.js';

/**
 * Found by the manager fuzz (seed 194178693): a dump whose timestamp had 15 digits loaded into
 * the memory store but failed half-way in Redis with StoreUnavailable (Lua prints such a number
 * in exponent form, which PEXPIREAT refuses). Numbers in dumps are now bounded on every store.
 */
describe('dumps: numbers out of range are InvalidInput on every store, and nothing is loaded', () => {
  const fx = singleServerPerSuite();
  const stores: Array<[string, () => SessionStore]> = [
    ['MemoryStore', () => new MemoryStore()],
    ['RedisStore', () => new RedisStore({ client: fx.client, prefix: uniquePrefix() })],
  ];

  async function sourceDump(clock: TestClock) {
    const m = makeManager(new MemoryStore(), clock);
    const sid = await m.createSession({ userId: 'alice', authRequest: authRequest('app'), authnEvent: {} });
    await m.mintToken(sid, 'access_token');
    return m.dump();
  }

  for (const [name, make] of stores) {
    it(`${name}: 15-digit, negative and fractional-but-huge timestamps are refused; a normal dump loads`, async () => {
      const clock = new TestClock();
      const d = await sourceDump(clock);
      const target: SessionManager = makeManager(make(), clock);
      const empty = JSON.stringify(canonicalDump(await target.dump()));
      const variants = [
        { ...d, tokens: d.tokens.map((t) => ({ ...t, expiresAt: 1e15 })) },
        { ...d, grants: d.grants.map((g) => ({ ...g, expiresAt: 123456789012345.5 })) },
        { ...d, users: d.users.map((u) => ({ ...u, epoch: -1 })) },
        { ...d, clients: d.clients.map((c) => ({ ...c, createdAt: Number.MAX_SAFE_INTEGER })) },
      ];
      for (const v of variants) {
        await assert.rejects(target.load(v), InvalidInput);
        assert.equal(JSON.stringify(canonicalDump(await target.dump())), empty, 'a refused dump loaded nothing');
      }
      await target.load(d);
      assert.equal((await target.dump()).tokens.length, d.tokens.length);
    });
  }
});
