// Storage back ends for the peer provider.
//
// memory: oidc-provider's own MemoryAdapter class, unchanged, handed a store built from the
//   provider's own LRU helper with maxSize = Infinity. The provider's default store is a
//   1000-entry LRU that silently evicts codes, tokens, grants and sessions; measuring against
//   it would compare with a store that loses data. Infinity keeps the built-in code path
//   (including its per-grant index) and only removes the eviction.
//
// redis: written here on node-redis v5. Layout (all keys under `oidc:`):
//   oidc:<Model>:<id>     consumable models (codes, refresh tokens, ...): HASH { p: JSON, c: consumed-at }
//                         every other model: STRING with the JSON payload, EX = model TTL
//   oidc:grant:<grantId>  SET of the token keys issued under a grant, for revokeByGrantId; its TTL
//                         follows the longest-lived member (EXPIRE NX, then EXPIRE GT)
//   oidc:uid:<uid>        STRING -> Session id, for Session.findByUid
// Round trips per adapter call: upsert 1 (MULTI/EXEC), find 1, consume 1 (Lua), destroy 1,
// revokeByGrantId 1 (Lua: SMEMBERS + DEL members + DEL set, atomic), findByUid 2.
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { createClient } from 'redis';

type RedisClient = ReturnType<typeof createClient>;

export interface MemoryStorage {
  kind: 'memory';
  adapterFactory: AdapterFactory;
  /** Empties the store (between measurements). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface RedisStorage {
  kind: 'redis';
  adapterFactory: AdapterFactory;
  /** The adapter's Redis traffic goes through this; its `stats` count round trips. */
  redis: CountingRedis;
  /** FLUSHDB (between measurements; not counted as adapter traffic). */
  reset(): Promise<void>;
  /** INFO memory used_memory and DBSIZE (not counted as adapter traffic). */
  memory(): Promise<{ usedMemory: number; keys: number }>;
  close(): Promise<void>;
}

export type PeerStorage = MemoryStorage | RedisStorage;

export async function createPeerStorage(kind: 'memory' | 'redis', redisUrl?: string): Promise<PeerStorage> {
  if (kind === 'memory') return createMemoryStorage();
  if (kind === 'redis') return createRedisStorage(redisUrl ?? 'redis://127.0.0.1:6379');
  throw new Error(`unknown peer adapter ${String(kind)}`);
}

export function createMemoryStorage(): MemoryStorage {
  const store = new LRU({ maxSize: Number.POSITIVE_INFINITY });
  return {
    kind: 'memory',
    adapterFactory: (model) => new MemoryAdapter(model, store),
    reset: async () => store.clear(),
    close: async () => store.clear(),
  };
}

// ---- Redis ---------------------------------------------------------------------------------

export interface RedisTrafficStats {
  /** Network round trips the adapter waited for: one per command, MULTI/EXEC block or script call. */
  roundTrips: number;
  /** Commands the adapter sent; those inside MULTI count one by one, MULTI/EXEC and commands run by Lua do not. */
  commands: number;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (!LOOPBACK.has(hostname)) throw new Error(`refusing non-loopback Redis host ${hostname}`);
}

/** Wraps a node-redis client so that every call the adapter makes is counted. */
export class CountingRedis {
  readonly stats: RedisTrafficStats = { roundTrips: 0, commands: 0 };
  readonly #shas = new Map<string, string>();

  constructor(readonly client: RedisClient) {}

  resetStats(): void {
    this.stats.roundTrips = 0;
    this.stats.commands = 0;
  }

  send<T>(args: string[]): Promise<T> {
    this.stats.roundTrips += 1;
    this.stats.commands += 1;
    return this.client.sendCommand<T>(args);
  }

  async transaction(commands: string[][]): Promise<unknown[]> {
    this.stats.roundTrips += 1;
    this.stats.commands += commands.length;
    const multi = this.client.multi();
    for (const args of commands) multi.addCommand(args);
    // node-redis rejects with MultiErrorReply if any command in the block failed
    return multi.exec();
  }

  /** EVALSHA of a script loaded by preload(); reloads it (a counted round trip) if Redis lost it. */
  async script<T>(lua: string, keys: string[], args: string[]): Promise<T> {
    const evalsha = (sha: string) => this.send<T>(['EVALSHA', sha, String(keys.length), ...keys, ...args]);
    const sha = this.#shas.get(lua);
    if (sha) {
      try {
        return await evalsha(sha);
      } catch (err) {
        if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err;
      }
    }
    const loaded = await this.send<string>(['SCRIPT', 'LOAD', lua]);
    this.#shas.set(lua, loaded);
    return evalsha(loaded);
  }

  /** Loads scripts before any measurement, uncounted, so that measured calls are one EVALSHA each. */
  async preload(...scripts: string[]): Promise<void> {
    for (const lua of scripts) this.#shas.set(lua, await this.client.sendCommand<string>(['SCRIPT', 'LOAD', lua]));
  }
}

const PREFIX = 'oidc:';

const CONSUMABLE = new Set([
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);
const GRANTABLE = new Set([...CONSUMABLE, 'AccessToken']);

const grantKey = (grantId: string) => `${PREFIX}grant:${grantId}`;
const uidKey = (uid: string) => `${PREFIX}uid:${uid}`;
const userCodeKey = (userCode: string) => `${PREFIX}userCode:${userCode}`;

// Marks as consumed only what still exists, so a consume racing an expiry or a revocation does
// not resurrect a bare { c } hash without TTL.
const CONSUME_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'c', ARGV[1])
  return 1
end
return 0`;

// One atomic step: no token can be added to the grant between reading and deleting its members.
// Deletes in chunks because unpack() has a stack limit for large grants.
const REVOKE_LUA = `
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 500 do
  redis.call('DEL', unpack(members, i, math.min(i + 499, #members)))
end
redis.call('DEL', KEYS[1])
return #members`;

const ttlSeconds = (expiresIn?: number) =>
  typeof expiresIn === 'number' && expiresIn > 0 ? String(Math.ceil(expiresIn)) : undefined;

export class RedisAdapter implements Adapter {
  readonly #consumable: boolean;
  readonly #grantable: boolean;

  constructor(
    readonly model: string,
    readonly redis: CountingRedis,
  ) {
    this.#consumable = CONSUMABLE.has(model);
    this.#grantable = GRANTABLE.has(model);
  }

  key(id: string): string {
    return `${PREFIX}${this.model}:${id}`;
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.key(id);
    const ttl = ttlSeconds(expiresIn);
    const json = JSON.stringify(payload);
    const ex = ttl ? ['EX', ttl] : [];
    const cmds: string[][] = [];

    if (this.#consumable) {
      // DEL first: a re-saved model starts unconsumed and without stale fields
      cmds.push(['DEL', key], ['HSET', key, 'p', json]);
      if (ttl) cmds.push(['EXPIRE', key, ttl]);
    } else {
      cmds.push(['SET', key, json, ...ex]);
    }

    if (this.#grantable && payload.grantId) {
      const set = grantKey(payload.grantId);
      cmds.push(['SADD', set, key]);
      // NX gives a new set its TTL; GT only ever extends it (both need Redis >= 7.0)
      if (ttl) cmds.push(['EXPIRE', set, ttl, 'NX'], ['EXPIRE', set, ttl, 'GT']);
    }
    if (this.model === 'Session' && payload.uid) cmds.push(['SET', uidKey(payload.uid), id, ...ex]);
    if (payload.userCode) cmds.push(['SET', userCodeKey(payload.userCode), id, ...ex]);

    await this.redis.transaction(cmds);
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    if (typeof id !== 'string') return undefined;
    if (this.#consumable) {
      const [p, c] = await this.redis.send<(string | null)[]>(['HMGET', this.key(id), 'p', 'c']);
      if (!p) return undefined;
      const payload = JSON.parse(p) as AdapterPayload;
      if (c) payload.consumed = Number(c);
      return payload;
    }
    const json = await this.redis.send<string | null>(['GET', this.key(id)]);
    return json ? (JSON.parse(json) as AdapterPayload) : undefined;
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const id = await this.redis.send<string | null>(['GET', uidKey(uid)]);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    const id = await this.redis.send<string | null>(['GET', userCodeKey(userCode)]);
    return id ? this.find(id) : undefined;
  }

  async consume(id: string): Promise<void> {
    await this.redis.script(CONSUME_LUA, [this.key(id)], [String(Math.floor(Date.now() / 1000))]);
  }

  async destroy(id: string): Promise<void> {
    // index keys (uid, grant set membership) are left to expire: a dangling index entry only
    // ever leads to a miss
    await this.redis.send(['DEL', this.key(id)]);
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.redis.script(REVOKE_LUA, [grantKey(grantId)], []);
  }
}

export async function createRedisStorage(url: string): Promise<RedisStorage> {
  assertLoopback(url);
  const client: RedisClient = createClient({ url });
  client.on('error', (err: unknown) => console.error('peer redis error', err));
  await client.connect();
  const redis = new CountingRedis(client);
  await redis.preload(CONSUME_LUA, REVOKE_LUA);
  return {
    kind: 'redis',
    redis,
    adapterFactory: (model) => new RedisAdapter(model, redis),
    reset: async () => {
      await client.sendCommand(['FLUSHDB']);
    },
    memory: async () => {
      const info = await client.sendCommand<string>(['INFO', 'memory']);
      const used = /^used_memory:(\d+)/m.exec(info)?.[1];
      const keys = await client.sendCommand<number>(['DBSIZE']);
      return { usedMemory: Number(used), keys };
    },
    close: () => client.close(),
  };
}
