/**
 * Starts private `redis-server` processes on free loopback ports for tests, and a Redis
 * Cluster made of several of them. Nothing is persisted; every process is killed on stop.
 * With REDIS_URL set, `startRedis()` returns that server instead (single-server tests only).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export interface RedisInstance {
  readonly url: string;
  readonly port: number;
  /** Kills the process (SIGKILL): an outage, as far as clients can tell. */
  kill(): Promise<void>;
  /** Starts the same server again on the same port (empty: nothing is persisted). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { stdout } = await exec('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'PING']);
      if (stdout.trim() === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function launch(port: number, dir: string, extra: readonly string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra],
    { stdio: 'ignore' },
  );
  child.unref();
  return child;
}

/** A single private Redis server (or REDIS_URL when set). */
export async function startRedis(extra: readonly string[] = []): Promise<RedisInstance> {
  if (process.env.REDIS_URL && extra.length === 0) {
    const url = process.env.REDIS_URL;
    const port = Number(new URL(url).port || 6379);
    return { url, port, kill: async () => {}, restart: async () => {}, stop: async () => {} };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'oidc-sessions-redis-'));
  let child = launch(port, dir, extra);
  await waitForPing(port);
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    // The child is unref'd (it must not keep a test run alive); while waiting for its exit it
    // must, or a script whose last step is this wait ends with an unsettled promise (exit 13).
    child.ref();
    child.kill('SIGKILL');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    restart: async () => {
      await kill();
      child = launch(port, dir, extra);
      await waitForPing(port);
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisClusterInstance {
  readonly nodes: readonly RedisInstance[];
  /** Root nodes for node-redis `createCluster({ rootNodes })`. */
  readonly rootNodes: ReadonlyArray<{ url: string }>;
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` primaries on loopback ports (no replicas). */
export async function startRedisCluster(masters = 3): Promise<RedisClusterInstance> {
  const nodes: RedisInstance[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-node-timeout', '2000']));
  }
  await exec('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  // Wait until every node agrees that all slots are served.
  const deadline = Date.now() + 20_000;
  for (const n of nodes) {
    for (;;) {
      const { stdout } = await exec('redis-cli', ['-p', String(n.port), 'CLUSTER', 'INFO']);
      if (stdout.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error('Redis Cluster did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    nodes,
    rootNodes: nodes.map((n) => ({ url: n.url })),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}
