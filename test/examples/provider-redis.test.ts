import { randomBytes } from 'node:crypto';
import { connectRedis } from '../../examples/provider/redis.js';
import { startRedis } from '../helpers/redis-server.js';
import { providerSuite } from './helpers/provider-suite.js';

// The provider's own Redis wiring (what REDIS_URL selects): the tree in RedisStore and browser
// sessions in connect-redis, on one node-redis client, against a private redis-server.
providerSuite(
  'Redis: tree in RedisStore, browser sessions in connect-redis',
  async () => {
    const redis = await startRedis();
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const stores = await connectRedis(redis.url, quiet, `op-test-${randomBytes(4).toString('hex')}:`);
    return {
      treeStore: stores.treeStore,
      sessionStore: stores.sessionStore,
      outage: {
        begin: () => redis.kill(),
        async end() {
          await redis.restart();
          // Give the client a moment to reconnect (its backoff is at most 1 s).
          await new Promise((r) => setTimeout(r, 1200));
        },
      },
      async close() {
        await stores.close();
        await redis.stop();
      },
    };
  },
  // A shared server (REDIS_URL) cannot be killed and restarted by a test.
  { outage: !process.env.REDIS_URL },
);
