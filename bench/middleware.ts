/**
 * Middleware benchmark (issue 4 "Speed"): the cost of `oidcSessions()` on a request of a
 * logged-in browser.
 *
 *   npx tsx bench/middleware.ts                 3 rounds × 5 s per side (about 40 s)
 *   npx tsx bench/middleware.ts --duration 10 --rounds 5 --json out.json
 *
 * Two Express 5 apps in one child process (so the driver and the server do not share a core):
 *   A  express-session alone;
 *   B  express-session + oidcSessions() (tree in the MemoryStore).
 * Both serve GET /hello to a browser that is logged in (A keeps an equivalent user record in
 * its session, so both load and touch the same amount of session data). The driver runs
 * autocannon with 10 connections, alternating A and B for each round after a warm-up, checks
 * that every response was a 200 for the logged-in user, and prints the median requests/s,
 * latency and server CPU time per request of each side, and the overhead of B. Target
 * (issue 4): overhead ≤ 15 %. On a busy machine throughput swings between runs; the server's
 * CPU time per request (process.cpuUsage around each run) is the steadier figure.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { flagValue, hasFlag, intFlag } from './lib/args.js';
import { writeJson } from './lib/json.js';
import { median, round } from './lib/stats.js';

const SELF = fileURLToPath(import.meta.url);
const COOKIE_SECRET = 'bench-cookie-secret-0123456789abcdef';

// ---------------------------------------------------------------- server (child process)

async function serve(): Promise<void> {
  const { default: express } = await import('express');
  const { default: session } = await import('express-session');
  const { SessionManager, oidcSessions, oidcSessionsErrorHandler, sessionCookie } = await import('../src/index.js');

  const manager = new SessionManager({
    secrets: { sessionIdKeys: [{ kid: 'bench', key: randomBytes(32) }], subjectSalt: randomBytes(32) },
    logger: { warn: () => {} },
  });
  const sessionMiddleware = () =>
    session({ name: 'op.sid', secret: COOKIE_SECRET, resave: false, saveUninitialized: false, cookie: sessionCookie({ maxAge: 3_600_000 }) });

  // A: express-session alone, with a user record of the same shape in the session.
  const plain = express();
  plain.use(sessionMiddleware());
  plain.post('/login', (req, res) => {
    req.session.regenerate(() => {
      const now = Date.now();
      (req.session as unknown as Record<string, unknown>).oidc = {
        v: 1,
        userId: 'alice',
        browserSessionId: randomBytes(16).toString('base64url'),
        authnEvent: { userId: 'alice', authnTime: now, validUntil: now + 3_600_000 },
        clients: ['app'],
      };
      res.json({ ok: true });
    });
  });
  plain.get('/hello', (req, res) => {
    const user = (req.session as unknown as { oidc?: { userId: string } }).oidc?.userId;
    res.json({ hello: user ?? null });
  });

  // B: express-session + oidcSessions.
  const oidc = express();
  oidc.use(sessionMiddleware());
  oidc.use(oidcSessions({ manager }));
  oidc.post('/login', async (req, res, next) => {
    try {
      await req.oidcSessions.login('alice', { validFor: 3600 });
      await req.oidcSessions.authorize({ clientId: 'app', authRequest: { client_id: 'app', response_type: 'code', scope: 'openid' } });
      res.json({ ok: true });
    } catch (e) {
      next(e);
    }
  });
  oidc.get('/hello', (req, res) => res.json({ hello: req.oidcSessions.userId ?? null }));
  oidc.use(oidcSessionsErrorHandler());

  const listen = async (app: typeof plain) => {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  };
  const ports = { plain: await listen(plain), oidc: await listen(oidc) };
  // CPU time of this process, asked for around each run: per-request CPU cost is far less
  // sensitive to other load on the machine than throughput is.
  process.on('message', (m: { type?: string }) => {
    if (m.type === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ type: 'cpu', micros: u.user + u.system });
    }
  });
  // Exit cleanly on SIGINT so that `--cpu-prof` can write its profile.
  process.on('SIGINT', () => process.exit(0));
  process.send!({ type: 'ready', ports });
}

// ---------------------------------------------------------------- driver

export interface MiddlewareBenchOptions {
  /** Seconds per measured run (default 5). */
  readonly duration?: number;
  /** Alternating rounds (default 3). */
  readonly rounds?: number;
  readonly connections?: number;
  readonly log?: (line: string) => void;
}

export interface MiddlewareBenchResult {
  readonly connections: number;
  readonly duration: number;
  readonly rounds: number;
  readonly sessionOnly: {
    readonly rps: number[];
    readonly latencyMs: number[];
    readonly medianRps: number;
    readonly medianLatencyMs: number;
    readonly cpuMicrosPerRequest: number[];
    readonly medianCpuMicros: number;
  };
  readonly withOidcSessions: MiddlewareBenchResult['sessionOnly'];
  /** 1 − medianRps(B) / medianRps(A): the share of throughput the middleware costs. */
  readonly overhead: number;
  /** medianRps(B) / medianRps(A). */
  readonly ratio: number;
  /** Server CPU per request, B over A, minus 1: the same overhead, robust to a busy machine. */
  readonly cpuOverhead: number;
}

async function loginCookie(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST' });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('login set no cookie');
  const check = await fetch(`http://127.0.0.1:${port}/hello`, { headers: { cookie } });
  const body = (await check.json()) as { hello: string | null };
  if (body.hello !== 'alice') throw new Error(`the browser is not logged in on port ${port}`);
  return cookie;
}

interface Run {
  readonly rps: number;
  readonly latencyMs: number;
  /** Server CPU time per request, µs. */
  readonly cpuMicros: number;
}

async function load(child: ChildProcess, port: number, cookie: string, seconds: number, connections: number): Promise<Run> {
  const cpu = async () => {
    child.send({ type: 'cpu' });
    const [m] = (await once(child, 'message')) as [{ micros: number }];
    return m.micros;
  };
  const before = await cpu();
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/hello`,
    connections,
    duration: seconds,
    headers: { cookie },
    // Every response must be the logged-in user's: a 200 with the right body, nothing else.
    expectBody: '{"hello":"alice"}',
  });
  const bad = result.non2xx + result.errors + result.timeouts + (result.mismatches ?? 0);
  if (bad > 0) throw new Error(`port ${port}: ${bad} bad responses (non2xx ${result.non2xx}, errors ${result.errors}, mismatches ${result.mismatches})`);
  const cpuMicros = ((await cpu()) - before) / Math.max(1, result.requests.total);
  return { rps: result.requests.average, latencyMs: result.latency.average, cpuMicros };
}

export async function runMiddlewareBench(opts: MiddlewareBenchOptions = {}): Promise<MiddlewareBenchResult> {
  const duration = opts.duration ?? 5;
  const rounds = opts.rounds ?? 3;
  const connections = opts.connections ?? 10;
  const log = opts.log ?? (() => {});
  const child = fork(SELF, ['--serve'], { execArgv: ['--import', import.meta.resolve('tsx')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [msg] = (await once(child, 'message')) as [{ ports: { plain: number; oidc: number } }];
    const { ports } = msg;
    const cookies = { plain: await loginCookie(ports.plain), oidc: await loginCookie(ports.oidc) };
    log('warm-up (2 s each)');
    await load(child, ports.plain, cookies.plain, 2, connections);
    await load(child, ports.oidc, cookies.oidc, 2, connections);
    const a: Run[] = [];
    const b: Run[] = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first, so drift (thermal, other load) hits both alike.
      const order = r % 2 === 0 ? (['plain', 'oidc'] as const) : (['oidc', 'plain'] as const);
      for (const side of order) {
        const m = await load(child, ports[side], cookies[side], duration, connections);
        (side === 'plain' ? a : b).push(m);
        log(`round ${r + 1} ${side === 'plain' ? 'express-session          ' : 'express-session + oidc   '} ${round(m.rps, 0)} req/s, ${round(m.latencyMs, 2)} ms, ${round(m.cpuMicros, 1)} µs CPU/req`);
      }
    }
    const summary = (xs: typeof a) => ({
      rps: xs.map((x) => round(x.rps, 0)),
      latencyMs: xs.map((x) => round(x.latencyMs, 3)),
      medianRps: round(median(xs.map((x) => x.rps)), 0),
      medianLatencyMs: round(median(xs.map((x) => x.latencyMs)), 3),
      cpuMicrosPerRequest: xs.map((x) => round(x.cpuMicros, 1)),
      medianCpuMicros: round(median(xs.map((x) => x.cpuMicros)), 1),
    });
    const sessionOnly = summary(a);
    const withOidcSessions = summary(b);
    const ratio = withOidcSessions.medianRps / sessionOnly.medianRps;
    const cpuRatio = withOidcSessions.medianCpuMicros / sessionOnly.medianCpuMicros;
    return {
      connections,
      duration,
      rounds,
      sessionOnly,
      withOidcSessions,
      ratio: round(ratio, 3),
      overhead: round(1 - ratio, 3),
      cpuOverhead: round(cpuRatio - 1, 3),
    };
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (hasFlag(argv, 'serve')) return serve();
  const result = await runMiddlewareBench({
    duration: intFlag(argv, 'duration', 5),
    rounds: intFlag(argv, 'rounds', 3),
    connections: intFlag(argv, 'connections', 10),
    log: (l) => console.log(l),
  });
  console.log('');
  console.log(`GET /hello, logged-in browser, ${result.connections} connections, ${result.rounds} rounds × ${result.duration} s, medians:`);
  const row = (name: string, x: MiddlewareBenchResult['sessionOnly']) =>
    console.log(`  ${name} ${String(x.medianRps).padStart(6)} req/s  ${String(x.medianLatencyMs).padStart(7)} ms  ${String(x.medianCpuMicros).padStart(6)} µs CPU/req`);
  row('express-session alone         ', result.sessionOnly);
  row('express-session + oidcSessions', result.withOidcSessions);
  console.log(`  throughput ratio ${result.ratio}: overhead ${round(result.overhead * 100, 1)} % (target ≤ 15 %)`);
  console.log(`  server CPU per request: overhead ${round(result.cpuOverhead * 100, 1)} %`);
  const json = flagValue(argv, 'json');
  if (json) writeJson(json, result);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
