// Child-process entry: the peer provider as a real HTTP server on 127.0.0.1 (free port), so that
// load generation and the server do not share an event loop.
//
//   node --import tsx bench/peer/http-server.ts [--adapter memory|redis] [--redis-url redis://127.0.0.1:PORT]
//
// Forked with an IPC channel (see startPeerServer in ./http.ts) it first sends
//   { type: 'ready', port, issuer, adapter, pid }
// and then answers { id, cmd, ...args } with { id, result } or { id, error }:
//   mint { n, concurrency? }  -> string[]: n code values, each from its own Session + Grant + code
//   stats                     -> { redis: { roundTrips, commands } | null, memory, cpu }
//   resetStats                -> true
//   close                     -> true, then the process exits
// Without an IPC channel it prints one JSON line with the issuer and serves until killed.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

import { mintCodes } from './fixtures.js';
import { createPeerProvider } from './provider.js';

const { values: args } = parseArgs({
  options: {
    adapter: { type: 'string', default: 'memory' },
    'redis-url': { type: 'string' },
  },
});
const adapter = args.adapter === 'redis' ? 'redis' : 'memory';
if (args.adapter !== adapter) throw new Error(`unknown --adapter ${args.adapter}`);

const server = createServer();
// longer than autocannon's idle gaps between phases, so keep-alive connections are not cut
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

const peer = await createPeerProvider({ adapter, redisUrl: args['redis-url'], issuer: `http://127.0.0.1:${port}` });
server.on('request', peer.provider.callback());

let minted = 0;

async function shutdown(): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await peer.close();
}

async function handle(msg: { cmd: string; n?: number; concurrency?: number }): Promise<unknown> {
  switch (msg.cmd) {
    case 'mint': {
      const n = Number(msg.n);
      if (!Number.isInteger(n) || n < 0) throw new Error('mint needs an integer n >= 0');
      // Redis minting is latency-bound, so it gets ops in flight; in memory it makes no difference
      const concurrency = msg.concurrency ?? (adapter === 'redis' ? 64 : 1);
      const codes = await mintCodes(peer.provider, n, { concurrency, offset: minted });
      minted += n;
      return codes;
    }
    case 'stats':
      return {
        redis: peer.storage.kind === 'redis' ? { ...peer.storage.redis.stats } : null,
        memory: process.memoryUsage(),
        cpu: process.cpuUsage(),
      };
    case 'resetStats':
      if (peer.storage.kind === 'redis') peer.storage.redis.resetStats();
      return true;
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
    shutdown().finally(() => process.exit(0));
  });
  send({ type: 'ready', port, issuer: peer.issuer, adapter, pid: process.pid });
} else {
  console.log(JSON.stringify({ issuer: peer.issuer, adapter, pid: process.pid }));
}
