/** The store conformance suite against RedisStore: on one redis-server and on a 3-master Redis Cluster. */
import { runStoreConformance } from '../conformance/store-conformance.js';
import { deletePrefix, singleServerPerSuite, threeMastersPerSuite } from './helpers.js';

describe('RedisStore conformance', function () {
  this.timeout(60_000);

  describe('single server', () => {
    const fx = singleServerPerSuite();
    runStoreConformance('RedisStore, single server', async () => {
      const store = fx.store();
      const prefix = store.prefix;
      return { store, cleanup: () => deletePrefix(fx.client, prefix) };
    });
  });

  describe('3-master cluster', () => {
    const fx = threeMastersPerSuite();
    // Every store has its own prefix; the cluster is thrown away at the end.
    runStoreConformance('RedisStore, Redis Cluster (3 masters)', async () => ({ store: fx.store(), cleanup: async () => {} }));
  });
});
