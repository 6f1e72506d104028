/** The store conformance suite on the embedded MemoryStore (SPEC §6), and what is MemoryStore's own. */
import assert from 'node:assert/strict';
import { InvalidInput } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { TreeDump } from '../../src/store/store.js';
import { TestClock, canonicalDump, codeFlow, makeManager } from '../conformance/harness.js';
import { runStoreConformance } from '../conformance/store-conformance.js';

runStoreConformance('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

describe('MemoryStore.load is atomic', () => {
  /** A store holding alice's tree, and a dump of another store holding bob's and carol's. */
  async function fixture() {
    const clock = new TestClock();
    const store = new MemoryStore();
    const m = makeManager(store, clock);
    await codeFlow(m, 'alice', 'app');
    const other = makeManager(undefined, clock);
    await codeFlow(other, 'bob', 'app');
    await codeFlow(other, 'carol', 'app');
    const incoming = await other.dump();
    return { store, before: canonicalDump(await store.dump()), incoming, routeOf: () => 'r' };
  }

  it('a hole in the last list, called on the store directly: InvalidInput, nothing written', async () => {
    const { store, before, incoming, routeOf } = await fixture();
    const sparse = { ...incoming, markers: [...incoming.markers, , ,] } as unknown as TreeDump;
    await assert.rejects(store.load(sparse, routeOf), InvalidInput);
    assert.deepEqual(canonicalDump(await store.dump()), before);
  });

  it('routeOf throwing at the second user: the error surfaces, nothing written', async () => {
    const { store, before, incoming } = await fixture();
    let calls = 0;
    const routeOf = () => {
      if (++calls === 2) throw new RangeError('route');
      return 'r';
    };
    await assert.rejects(store.load(incoming, routeOf), RangeError);
    assert.deepEqual(canonicalDump(await store.dump()), before);
    // And the same dump then loads in full.
    await store.load(incoming, () => 'r');
    assert.equal((await store.dump()).users.length, 3);
  });
});
