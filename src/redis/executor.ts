/**
 * Runs the store's scripts on a node-redis client or cluster client: by SHA, falling back to
 * the source when Redis doesn't know the script (first use, restart, failover), and bounded in
 * time. Every failure to get an answer becomes {@link StoreUnavailable}; a script runs whole or
 * not at all, so a caller that sees the error knows nothing half-written is left behind.
 */
import { OidcSessionsError, StoreUnavailable } from '../errors.js';
import type { Script } from './lua.js';

type Reply = unknown;
interface EvalOptions {
  keys: string[];
  arguments: string[];
}

/** What the store needs from a single-node client (a subset of node-redis' `RedisClientType`). */
export interface RedisNodeClient {
  evalSha(sha1: string, options: EvalOptions): Promise<Reply>;
  eval(script: string, options: EvalOptions): Promise<Reply>;
  /** (Replies come back as strings: the store overrides the client's type mapping on its own view of it.) */
  scan(cursor: string, options: { MATCH: string; COUNT: number; TYPE: string }): Promise<{ cursor: unknown; keys: readonly unknown[] }>;
  hmGet(key: string, fields: string[]): Promise<Reply>;
  withCommandOptions(options: object): unknown;
  on?(event: 'error', listener: (err: unknown) => void): unknown;
  listenerCount?(event: 'error'): number;
}

/** What the store needs from a cluster client (a subset of node-redis' `RedisClusterType`). */
export interface RedisClusterClient {
  evalSha(sha1: string, options: EvalOptions): Promise<Reply>;
  eval(script: string, options: EvalOptions): Promise<Reply>;
  hmGet(key: string, fields: string[]): Promise<Reply>;
  withCommandOptions(options: object): unknown;
  readonly masters: readonly unknown[];
  nodeClient(node: never): Promise<unknown> | unknown;
  on?(event: 'error', listener: (err: unknown) => void): unknown;
  listenerCount?(event: 'error'): number;
}

export type RedisLikeClient = RedisNodeClient | RedisClusterClient;

function isCluster(c: RedisLikeClient): c is RedisClusterClient {
  return 'masters' in c && 'nodeClient' in c;
}

export class ScriptExecutor {
  readonly #client: RedisLikeClient;
  readonly #timeoutMs: number;
  readonly #scripts: Readonly<Record<string, Script>>;

  /** `scripts`: every script this executor may run (loaded together when a node lacks them). */
  constructor(client: RedisLikeClient, timeoutMs: number, scripts: Readonly<Record<string, Script>>) {
    this.#scripts = scripts;
    // Commands still waiting in node-redis' queue (offline queue, reconnect) are dropped at the
    // same bound, so an outage can't pile up work that would run long after callers gave up.
    // Replies are plain strings whatever type mapping the application set on its client.
    this.#client = client.withCommandOptions({ timeout: timeoutMs, typeMapping: {} }) as RedisLikeClient;
    this.#timeoutMs = timeoutMs;
    // node-redis emits 'error' on every lost connection; with no listener that would crash the
    // process instead of letting calls fail with StoreUnavailable. Only added when the
    // application attached none of its own.
    if (typeof client.listenerCount === 'function' && client.listenerCount('error') === 0) client.on?.('error', () => {});
  }

  /** Runs a script whose first key routes it (the scripts build every other key in that slot). */
  run(script: Script, key: string, args: string[]): Promise<Reply> {
    return this.bounded(async () => {
      const options = { keys: [key], arguments: args };
      try {
        return await this.#client.evalSha(script.sha, options);
      } catch (e) {
        if (!isNoScript(e)) throw e;
        // This node lost (restart, failover, SCRIPT FLUSH) or never had our scripts: run this one
        // from source, and load all of them in the background so other operations don't pay too.
        const reply = await this.#client.eval(script.source, options);
        this.#loadAll(key);
        return reply;
      }
    });
  }

  /** SCRIPT LOAD of every script on the node that serves `key` (fire and forget). */
  #loadAll(key: string): void {
    const c = this.#client as unknown as {
      sendCommand(...args: unknown[]): Promise<unknown>;
    };
    for (const script of Object.values(this.#scripts)) {
      const args = ['SCRIPT', 'LOAD', script.source];
      const sent = isCluster(this.#client) ? c.sendCommand(key, false, args) : c.sendCommand(args);
      sent.catch(() => {}); // a failure only means the next first use runs EVAL again
    }
  }

  /** HMGET as a single command (one round trip, atomic). */
  hmGet(key: string, fields: string[]): Promise<Reply> {
    return this.bounded(() => this.#client.hmGet(key, fields));
  }

  /** One SCAN step on every master (a single client is its own only master). */
  async nodes(): Promise<RedisNodeClient[]> {
    return this.bounded(async () => {
      const c = this.#client;
      if (!isCluster(c)) return [c];
      const out: RedisNodeClient[] = [];
      for (const m of c.masters) {
        const node = (await c.nodeClient(m as never)) as RedisNodeClient;
        out.push(node.withCommandOptions({ timeout: this.#timeoutMs, typeMapping: {} }) as RedisNodeClient);
      }
      return out;
    });
  }

  /** Runs `fn`, rejecting with StoreUnavailable when it fails or takes longer than the bound. */
  bounded<T>(fn: () => Promise<T>): Promise<T> {
    // One promise and one timer per call (this is on every store call): whichever settles it
    // first wins, and a late answer after the timeout is ignored.
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreUnavailable(`redis did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      const fail = (e: unknown): void => {
        clearTimeout(timer);
        reject(unavailable(e));
      };
      let work: Promise<T>;
      try {
        work = fn();
      } catch (e) {
        fail(e);
        return;
      }
      work.then((v) => {
        clearTimeout(timer);
        resolve(v);
      }, fail);
    });
  }
}

function isNoScript(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith('NOSCRIPT');
}

/** Maps any client or server failure to StoreUnavailable (our own typed errors pass through). */
export function unavailable(e: unknown): OidcSessionsError {
  if (e instanceof OidcSessionsError) return e;
  const name = e instanceof Error ? e.name : 'Error';
  const message = e instanceof Error ? e.message.slice(0, 200) : '';
  return new StoreUnavailable(`redis: ${name}${message ? `: ${message}` : ''}`);
}
