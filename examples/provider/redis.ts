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
import type { SessionStore } from '../../src/index.js';
import type { ProviderLogger } from './context.js';

export interface RedisStores {
  readonly sessionStore: session.Store;
  readonly treeStore: SessionStore | undefined;
  close(): Promise<void>;
}

export async function connectRedis(url: string, log: ProviderLogger, prefix = 'op:'): Promise<RedisStores> {
  const client = createClient({
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 3000) },
  });
  let down = false;
  // node-redis emits 'error' for every failed (re)connect; log the transition, not each retry.
  client.on('error', (e: Error) => {
    if (!down) log.warn(`redis: ${e.name}: connection lost; retrying`);
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis: connected again');
    down = false;
  });
  await client.connect();
  const sessionStore = new SessionRedisStore({ client, prefix: `${prefix}sess:` });
  const treeStore = await treeStoreFor(client, `${prefix}tree:`);
  if (!treeStore) log.warn('REDIS_URL: this build has no RedisStore for the session tree yet; the tree stays in memory');
  return {
    sessionStore,
    treeStore,
    async close() {
      await client.close().catch(() => {});
    },
  };
}

/** The library's RedisStore for the tree, when this build has it. */
async function treeStoreFor(_client: unknown, _prefix: string): Promise<SessionStore | undefined> {
  return undefined;
}
