/**
 * Redis traffic of a benchmarked system, counted two ways:
 *
 * - round trips, in the client process: every command, script call and MULTI/EXEC or pipeline
 *   block a node-redis v5 client sends and waits for (the peer harness's `CountingRedis` counts
 *   its adapter's traffic the same way);
 * - commands, on the server: `INFO commandstats` deltas, which include what Lua scripts and
 *   MULTI blocks run inside (MULTI, EXEC and our own INFO calls are left out).
 *
 * Each system gets its own private redis-server in bench/run.ts, so server-side deltas belong to
 * one system only.
 */
import { createClient } from 'redis';

export interface RoundTripStats {
  /** Commands, script calls and MULTI/EXEC or pipeline blocks sent and waited for. */
  roundTrips: number;
}

type Patchable = Record<string, unknown>;

/** Wraps `sendCommand`, `_executeMulti` and `_executePipeline` of `target` (own properties). */
function patch(target: Patchable, stats: RoundTripStats): void {
  for (const name of ['sendCommand', '_executeMulti', '_executePipeline']) {
    const original = target[name];
    if (typeof original !== 'function') throw new Error(`node-redis client has no ${name}: the counter needs updating`);
    target[name] = function counted(this: unknown, ...args: unknown[]) {
      stats.roundTrips += 1;
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    };
  }
}

/**
 * Counts the round trips of one client. Call it before handing the client to a store: node-redis'
 * `withCommandOptions()` views (RedisStore makes one) inherit from the client, so they are
 * counted too.
 */
export function countClientRoundTrips(client: object): RoundTripStats {
  const stats: RoundTripStats = { roundTrips: 0 };
  // createClient() hands out a view on the real client (`_self`); store views are made from `_self`.
  const self = (client as { _self?: object })._self ?? client;
  patch(self as Patchable, stats);
  return stats;
}

/**
 * Counts the round trips of every node-redis client of this process, including clients created
 * by code that does not hand them out (the example provider's `connectRedis`). For a child
 * process that holds one client; call it before any client is created.
 */
export function countAllRoundTrips(): RoundTripStats {
  const stats: RoundTripStats = { roundTrips: 0 };
  let proto: object | null = Object.getPrototypeOf(createClient());
  while (proto && !Object.hasOwn(proto, 'sendCommand')) proto = Object.getPrototypeOf(proto);
  if (!proto) throw new Error('node-redis client prototype without sendCommand');
  patch(proto as Patchable, stats);
  return stats;
}

/** Server-side view of one private redis-server: flush, memory, command counts. Not counted as traffic of the system. */
export class RedisAdmin {
  readonly #client: ReturnType<typeof createClient>;

  private constructor(client: ReturnType<typeof createClient>) {
    this.#client = client;
  }

  static async connect(url: string): Promise<RedisAdmin> {
    const client = createClient({ url });
    client.on('error', () => {});
    await client.connect();
    return new RedisAdmin(client);
  }

  async flush(): Promise<void> {
    await this.#client.sendCommand(['FLUSHALL']);
    await this.#client.sendCommand(['CONFIG', 'RESETSTAT']);
  }

  /** `used_memory` and key count. */
  async memory(): Promise<{ usedMemory: number; keys: number }> {
    const info = String(await this.#client.sendCommand(['INFO', 'memory']));
    const used = /used_memory:(\d+)/.exec(info);
    if (!used) throw new Error('INFO memory without used_memory');
    const keys = Number(await this.#client.sendCommand(['DBSIZE']));
    return { usedMemory: Number(used[1]), keys };
  }

  /**
   * Calls per command so far (`INFO commandstats`), and their total without MULTI, EXEC, INFO,
   * CONFIG and DBSIZE (transaction framing and this class's own traffic).
   */
  async commandCalls(): Promise<{ total: number; byCommand: Record<string, number> }> {
    const info = String(await this.#client.sendCommand(['INFO', 'commandstats']));
    const byCommand: Record<string, number> = {};
    let total = 0;
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      const name = m[1]!;
      const calls = Number(m[2]);
      byCommand[name] = calls;
      if (!/^(multi|exec|info|config|dbsize|flushall|hello|client|select|ping)(\||$)/.test(name)) total += calls;
    }
    return { total, byCommand };
  }

  /** CPU seconds the redis-server process has used (INFO cpu: user + sys, main thread included). */
  async cpuSeconds(): Promise<number> {
    const info = String(await this.#client.sendCommand(['INFO', 'cpu']));
    const user = /used_cpu_user:([\d.]+)/.exec(info);
    const sys = /used_cpu_sys:([\d.]+)/.exec(info);
    if (!user || !sys) throw new Error('INFO cpu without used_cpu_user/sys');
    return Number(user[1]) + Number(sys[1]);
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => {});
  }
}

/** Per-command deltas between two `commandCalls()` readings (only commands that moved). */
export function commandDelta(
  before: { byCommand: Record<string, number> },
  after: { byCommand: Record<string, number> },
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after.byCommand)) {
    const d = v - (before.byCommand[k] ?? 0);
    if (d > 0 && !/^(info|config|dbsize)$/.test(k)) out[k] = d;
  }
  return out;
}
