/**
 * With REDIS_URL: browser sessions in Redis through connect-redis (9.x, node-redis ≥ 5) and the
 * session tree in the library's RedisStore, both on one node-redis client.
 *
 * The client does not queue commands while disconnected (`disableOfflineQueue`), so when Redis
 * is down requests fail at once with a connection error, which the app answers 503
 * `temporarily_unavailable`, instead of hanging; it reconnects in the background.
 */
import { RedisStore as SessionRedisStore } from 'connect-redis';
import type session from 'express-session';
import { createClient } from 'redis';
import { RedisStore, type SessionStore } from '../../src/index.js';
import type { ProviderLogger } from './context.js';

export interface RedisStores {
  readonly sessionStore: session.Store;
  readonly treeStore: SessionStore;
  close(): Promise<void>;
}

/**
 * Connects to Redis and returns both stores on one client, under `prefix` (`op:sess:…` for
 * browser sessions, `op:tree:…` for the tree). `close()` disconnects.
 */
export async function connectRedis(url: string, log: ProviderLogger, prefix = 'op:'): Promise<RedisStores> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    // Connect no slower than the tree store's command timeout (1 s); keep retrying, at most 1 s apart.
    socket: { connectTimeout: 1000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1000) },
  });
  let down = false;
  // node-redis emits 'error' for every failed (re)connect; log the transition, not each retry.
  client.on('error', (e: Error & { code?: unknown }) => {
    // The error code (ECONNREFUSED, ENOTFOUND, …) says why; the message could echo the URL.
    const why = typeof e.code === 'string' && /^[A-Z_]{2,32}$/.test(e.code) ? `${e.name} ${e.code}` : e.name;
    if (!down) log.warn(`redis: ${why}; retrying in the background`);
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis: connected again');
    down = false;
  });
  log.info(`connecting to Redis at ${new URL(url).host}…`);
  await client.connect();
  const sessionStore = new SessionRedisStore({ client, prefix: `${prefix}sess:` });
  const treeStore = new RedisStore({ client, prefix: `${prefix}tree:` });
  return {
    sessionStore,
    treeStore,
    async close() {
      await client.close().catch(() => {});
    },
  };
}
