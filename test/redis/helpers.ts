/**
 * Redis fixtures for the RedisStore tests: one private redis-server (or a 3-master cluster) per
 * test file, node-redis clients configured as the README recommends, and stores on unique key
 * prefixes so that several empty stores can share one server. `singleServerPerSuite()` and
 * `threeMastersPerSuite()` register the mocha hooks that start and stop one for a describe block.
 */
import { createClient, createCluster } from 'redis';
import { RedisStore, type RedisStoreOptions } from '../../src/redis/redis-store.js';
import { startRedis, startRedisCluster, type RedisClusterInstance, type RedisInstance } from '../helpers/redis-server.js';

export type Client = ReturnType<typeof createClient>;
export type Cluster = ReturnType<typeof createCluster>;

/** Client options the README recommends: fail fast while disconnected, keep reconnecting. */
export function clientOptions(url: string) {
  return {
    url,
    disableOfflineQueue: true,
    socket: { connectTimeout: 500, reconnectStrategy: (retries: number) => Math.min(50 + retries * 50, 500) },
  };
}

export async function connect(url: string): Promise<Client> {
  const client = createClient(clientOptions(url));
  client.on('error', () => {});
  await client.connect();
  return client;
}

export async function connectCluster(c: RedisClusterInstance): Promise<Cluster> {
  const cluster = createCluster({
    rootNodes: c.rootNodes.map((n) => ({ url: n.url })),
    defaults: { disableOfflineQueue: true, socket: { connectTimeout: 500, reconnectStrategy: (r: number) => Math.min(50 + r * 50, 500) } },
  });
  cluster.on('error', () => {});
  await cluster.connect();
  return cluster;
}

let prefixCounter = 0;
/** A prefix no other store in this process uses. */
export function uniquePrefix(): string {
  return `t${process.pid}-${++prefixCounter}:`;
}

/** Deletes every key under `prefix` on a single server. */
export async function deletePrefix(client: Client, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const page of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) keys.push(...page);
  for (let i = 0; i < keys.length; i += 500) await client.del(keys.slice(i, i + 500));
}

export function isCluster(c: Client | Cluster): c is Cluster {
  return 'masters' in c;
}

/** Every key under `prefix`, on every master. */
export async function allKeys(client: Client | Cluster, prefix: string): Promise<string[]> {
  const nodes: Client[] = isCluster(client) ? await Promise.all(client.masters.map((m) => client.nodeClient(m) as Promise<Client>)) : [client];
  const out: string[] = [];
  for (const n of nodes) for await (const page of n.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) out.push(...page);
  return out;
}

export interface SingleFixture {
  server: RedisInstance;
  client: Client;
  store(options?: Partial<RedisStoreOptions>): RedisStore;
  stop(): Promise<void>;
}

/** A private server and a connected client; `store()` makes a store on a fresh prefix. */
export async function singleServer(extra: readonly string[] = []): Promise<SingleFixture> {
  const server = await startRedis(extra);
  const client = await connect(server.url);
  return {
    server,
    client,
    store: (options = {}) => new RedisStore({ client, prefix: uniquePrefix(), ...options }),
    stop: async () => {
      await client.close().catch(() => {});
      await server.stop();
    },
  };
}

export interface ClusterFixture {
  cluster: RedisClusterInstance;
  client: Cluster;
  store(options?: Partial<RedisStoreOptions>): RedisStore;
  stop(): Promise<void>;
}

export async function threeMasters(): Promise<ClusterFixture> {
  const cluster = await startRedisCluster(3);
  const client = await connectCluster(cluster);
  return {
    cluster,
    client,
    store: (options = {}) => new RedisStore({ client, prefix: uniquePrefix(), ...options }),
    stop: async () => {
      await client.close().catch(() => {});
      await cluster.stop();
    },
  };
}

/**
 * Registers mocha hooks on the enclosing describe: `start()` in before(), the fixture's stop() in
 * after(). The returned object reads through to the fixture, so the suite's tests use it as they
 * would the fixture itself; using it before the before() hook has run throws.
 */
function perSuite<T extends { stop(): Promise<void> }>(start: () => Promise<T>): T {
  let fx: T | undefined;
  before(async () => {
    fx = await start();
  });
  after(async () => {
    await fx?.stop();
  });
  return new Proxy({} as T, {
    get(_target, key) {
      if (fx === undefined) throw new Error(`Redis fixture: ${String(key)} read before the suite's before() hook ran`);
      return Reflect.get(fx, key);
    },
  });
}

/** {@link singleServer} for the enclosing describe: started before its first test, stopped after its last. */
export function singleServerPerSuite(extra: readonly string[] = []): SingleFixture {
  return perSuite(() => singleServer(extra));
}

/** {@link threeMasters} for the enclosing describe: started before its first test, stopped after its last. */
export function threeMastersPerSuite(): ClusterFixture {
  return perSuite(threeMasters);
}
