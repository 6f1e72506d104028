/**
 * Found by the model-based test on Redis: `dump()` → `load()` must keep which of two grants
 * created in the same millisecond is the newer one (B-29), so that consent reuse
 * (`getGrantByResponseType`) picks the same grant after a reload as before it.
 */
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory-store.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { SessionStore } from '../../src/store/store.js';
import { TestClock, authRequest, makeManager } from '../conformance/harness.js';
import { singleServerPerSuite, uniquePrefix } from '../redis/helpers.js';

describe('reliability: dump → load keeps the order of grants of one millisecond', function () {
  this.timeout(30_000);
  const fx = singleServerPerSuite(['--maxmemory-policy', 'noeviction']);

  const stores: Array<[string, (clock: TestClock) => SessionStore]> = [
    ['MemoryStore', () => new MemoryStore()],
    ['RedisStore', (clock) => new RedisStore({ client: fx.client, prefix: uniquePrefix(), clock: clock.read })],
  ];
  for (const [name, make] of stores) {
    it(`${name}: the newest of 20 same-millisecond grants is still the newest after a reload`, async () => {
      const clock = new TestClock(); // does not move: every grant is issued in the same millisecond
      const m = makeManager(make(clock), clock);
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const sid = await m.createSession({ userId: 'alice', authnEvent: {}, authRequest: authRequest('app') });
        ids.push(m.openSessionId(sid).grantId!);
      }
      assert.equal((await m.getGrantByResponseType('alice', 'app'))?.id, ids.at(-1));
      const reloaded = makeManager(make(clock), clock);
      await reloaded.load(JSON.parse(JSON.stringify(await m.dump())));
      assert.equal((await reloaded.getGrantByResponseType('alice', 'app'))?.id, ids.at(-1), 'newest grant after dump → load');
      assert.deepEqual((await reloaded.grants({ userId: 'alice', clientId: 'app' })).map((g) => g.id), [...ids].reverse(), 'newest-first order after dump → load');
    });
  }
});
