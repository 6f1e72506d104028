/** The store conformance suite against RedisStore: on one redis-server and on a 3-master Redis Cluster. */
import { runStoreConformance } from '../conformance/store-conformance.js';
import { deletePrefix, singleServer, threeMasters, type ClusterFixture, type SingleFixture } from './helpers.js';

describe('RedisStore conformance', function () {
  this.timeout(60_000);

  describe('single server', () => {
    let fx: SingleFixture;
    before(async () => {
      fx = await singleServer();
    });
    after(async () => {
      await fx?.stop();
    });
    runStoreConformance('RedisStore, single server', async () => {
      const store = fx.store();
      const prefix = store.prefix;
      return { store, cleanup: () => deletePrefix(fx.client, prefix) };
    });
  });

  describe('3-master cluster', () => {
    let fx: ClusterFixture;
    before(async () => {
      fx = await threeMasters();
    });
    after(async () => {
      await fx?.stop();
    });
    // Every store has its own prefix; the cluster is thrown away at the end.
    runStoreConformance('RedisStore, Redis Cluster (3 masters)', async () => ({ store: fx.store(), cleanup: async () => {} }));
  });
});
