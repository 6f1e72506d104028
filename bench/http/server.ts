/**
 * Child-process entry: our example provider (examples/provider, `createProviderApp`) as a real
 * HTTP server on 127.0.0.1 (free port), configured like the peer (bench/http/fixtures.ts).
 * It speaks the IPC protocol of the peer's child (bench/peer/http-server.ts), so the same
 * parent code starts, mints for and drives both:
 *
 *   node --import tsx bench/http/server.ts [--adapter memory|redis] [--redis-url redis://127.0.0.1:PORT]
 *
 * First `{ type: 'ready', port, issuer, adapter, pid }`, then `{ id, cmd, ...args }` answered by
 * `{ id, result }` or `{ id, error }`:
 *   mint { n, concurrency? } -> string[]: n code values, each after its own login + consent
 *   stats                    -> { redis: { roundTrips, commands } | null, memory, cpu }
 *   resetStats               -> true
 *   profileStart             -> true: starts the CPU profiler (bench/run.ts --profile)
 *   profileStop { path }     -> path: stops it and writes a .cpuprofile there
 *   close                    -> true, then the process exits
 *
 * With `--adapter redis` the provider runs exactly as `REDIS_URL=… npm start` does
 * (examples/provider/redis.ts: the tree in RedisStore, browser sessions in connect-redis, one
 * client); every round trip of that client is counted.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Session as InspectorSession } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { countAllRoundTrips } from '../lib/redis-traffic.js';
import { parallel } from '../lib/timing.js';
import { accountFor } from '../peer/constants.js';
import { BENCH_CLIENT, LoggedInBrowsers, MANAGER_OPTIONS, benchUsers, consent, issueCode } from './fixtures.js';

const { values: args } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'memory' },
    'redis-url': { type: 'string' },
  },
});
const adapter = args.adapter === 'redis' ? 'redis' : 'memory';
if (args.adapter !== adapter) throw new Error(`unknown --adapter ${args.adapter}`);

// Before any client exists, so the provider's own client is counted.
const traffic = adapter === 'redis' ? countAllRoundTrips() : undefined;

const { createProviderApp } = await import('../../examples/provider/app.js');
const { generateKeys } = await import('../../examples/provider/keys.js');
const { connectRedis } = await import('../../examples/provider/redis.js');

const quiet = { info: () => {}, warn: (m: string) => process.stderr.write(`${m}\n`), error: (m: string) => process.stderr.write(`${m}\n`) };

const server = createServer();
// longer than autocannon's idle gaps between phases, so keep-alive connections are not cut
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
const issuer = `http://127.0.0.1:${port}`;

let redis: Awaited<ReturnType<typeof connectRedis>> | undefined;
if (adapter === 'redis') {
  const url = args['redis-url'];
  if (!url) throw new Error('--adapter redis needs --redis-url');
  // loopback only (the peer's adapters.ts has the same check, but importing it would load oidc-provider here)
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error('refusing a non-loopback Redis host');
  redis = await connectRedis(url, quiet);
}
const { app, manager } = await createProviderApp({
  issuer,
  clients: [BENCH_CLIENT],
  users: benchUsers(),
  keys: await generateKeys(),
  managerOptions: MANAGER_OPTIONS,
  ...(redis && { treeStore: redis.treeStore, sessionStore: redis.sessionStore }),
  logger: quiet,
});
server.on('request', app);

let minted = 0;
const browsers = new LoggedInBrowsers(manager);

/**
 * n codes, each from its own consent (a new grant, as the peer's mint makes a Grant per code),
 * by the user's logged-in browser (see LoggedInBrowsers).
 */
async function mint(n: number, concurrency: number): Promise<string[]> {
  const offset = minted;
  minted += n;
  return parallel(
    n,
    async (i) => {
      const login = await browsers.of(accountFor(offset + i));
      const sessionId = await consent(manager, login);
      return issueCode(manager, sessionId, login, `n-${offset + i}`);
    },
    concurrency,
  );
}

async function shutdown(): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await redis?.close();
}

let profiler: InspectorSession | undefined;

async function handle(msg: { cmd: string; n?: number; concurrency?: number; path?: string }): Promise<unknown> {
  switch (msg.cmd) {
    case 'mint': {
      const n = Number(msg.n);
      if (!Number.isInteger(n) || n < 0) throw new Error('mint needs an integer n >= 0');
      // Redis minting is latency-bound, so it gets ops in flight; in memory it makes no difference
      return mint(n, msg.concurrency ?? (adapter === 'redis' ? 64 : 1));
    }
    case 'stats':
      return {
        // every call is one command or one script: commands sent = round trips
        redis: traffic ? { roundTrips: traffic.roundTrips, commands: traffic.roundTrips } : null,
        memory: process.memoryUsage(),
        cpu: process.cpuUsage(),
      };
    case 'resetStats':
      if (traffic) traffic.roundTrips = 0;
      return true;
    case 'profileStart':
      profiler = new InspectorSession();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      return true;
    case 'profileStop': {
      if (!profiler || typeof msg.path !== 'string') throw new Error('profileStop needs a started profiler and a path');
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      writeFileSync(msg.path, JSON.stringify(profile));
      return msg.path;
    }
    case 'close':
      await shutdown();
      setImmediate(() => process.exit(0));
      return true;
    default:
      throw new Error(`unknown cmd ${msg.cmd}`);
  }
}

if (process.send) {
  const send = process.send.bind(process);
  process.on('message', (msg: { id: number; cmd: string }) => {
    handle(msg).then(
      (result) => send({ id: msg.id, result }),
      (err: unknown) => send({ id: msg.id, error: String((err as Error)?.stack ?? err) }),
    );
  });
  // the parent went away without saying close: do not linger as an orphan holding a port
  process.on('disconnect', () => {
    void shutdown().finally(() => process.exit(0));
  });
  send({ type: 'ready', port, issuer, adapter, pid: process.pid });
} else {
  console.log(JSON.stringify({ issuer, adapter, pid: process.pid }));
}
