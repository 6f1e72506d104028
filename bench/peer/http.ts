// HTTP-level driver for the peer: forks bench/peer/http-server.ts, mints codes over IPC, and
// builds autocannon requests for POST /token (code exchange, refresh), POST
// /token/introspection and GET /me. Every response is checked; failures are counted, never
// silently folded into the throughput.
//
// Token flow: codes come from the server's own models (what a finished login + consent would
// have stored, see fixtures.ts). Each code is redeemed once by a real POST /token; the access and
// refresh tokens of those responses feed the later phases. Refresh takes the next refresh token
// from a queue and puts back the rotated one it receives.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';

import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } from './constants.js';

// ---- child process -----------------------------------------------------------------------------

export interface PeerServerOptions {
  adapter: 'memory' | 'redis';
  redisUrl?: string;
  /** Extra node flags for the child (e.g. --cpu-prof); `--import tsx` is always added. */
  execArgv?: string[];
  /**
   * Another child entry speaking the same IPC protocol (bench/run.ts forks our own provider
   * through this, so both systems' children are started and driven by the same code).
   */
  entry?: string;
  /** Prefix of the child's stderr lines (default `peer server`). */
  label?: string;
}

export interface PeerServerStats {
  redis: { roundTrips: number; commands: number } | null;
  memory: NodeJS.MemoryUsage;
  cpu: NodeJS.CpuUsage;
}

export interface PeerServer {
  url: string;
  port: number;
  issuer: string;
  adapter: 'memory' | 'redis';
  pid: number;
  child: ChildProcess;
  call<T = unknown>(cmd: string, args?: Record<string, unknown>): Promise<T>;
  stats(): Promise<PeerServerStats>;
  close(): Promise<void>;
}

const SERVER_ENTRY = fileURLToPath(new URL('./http-server.ts', import.meta.url));

export async function startPeerServer(opts: PeerServerOptions): Promise<PeerServer> {
  const argv = ['--adapter', opts.adapter, ...(opts.redisUrl ? ['--redis-url', opts.redisUrl] : [])];
  const label = opts.label ?? 'peer server';
  const child = fork(opts.entry ?? SERVER_ENTRY, argv, {
    execArgv: ['--import', import.meta.resolve('tsx'), ...(opts.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    const text = d.toString();
    stderr += text;
    // pass real problems through; oidc-provider's Node 22 runtime notice is expected here
    for (const line of text.split('\n')) {
      if (line.trim() && !line.includes('Unsupported runtime')) process.stderr.write(`[${label}] ${line}\n`);
    }
  });

  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ready = new Promise<{ port: number; issuer: string; pid: number }>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      const err = new Error(`${label} exited (${code ?? signal})\n${stderr}`);
      reject(err);
      for (const p of pending.values()) p.reject(err);
      pending.clear();
    });
    child.on('message', (msg: { type?: string; id?: number; result?: unknown; error?: string; port: number; issuer: string; pid: number }) => {
      if (msg.type === 'ready') return resolve(msg);
      const p = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error));
      else p.resolve(msg.result);
    });
  });
  const info = await ready;

  const call = <T>(cmd: string, args: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd, ...args });
    });

  return {
    url: `http://127.0.0.1:${info.port}`,
    port: info.port,
    issuer: info.issuer,
    adapter: opts.adapter,
    pid: info.pid,
    child,
    call,
    stats: () => call<PeerServerStats>('stats'),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await call('close').catch(() => undefined);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---- load ------------------------------------------------------------------------------------

export type Phase = 'code_exchange' | 'refresh' | 'introspection' | 'userinfo';
export const PHASES: readonly Phase[] = ['code_exchange', 'refresh', 'introspection', 'userinfo'];

export interface CheckCounter {
  ok: number;
  failed: number;
  firstFailure?: string;
}

export interface RunOptions {
  /** Measured seconds (ignored when amount is set). */
  duration?: number;
  /** Exactly this many requests instead of a duration. */
  amount?: number;
  /** Unrecorded seconds of the same load first (default 0). */
  warmup?: number;
  /** Keep-alive connections (default 10), pipelining 1. */
  connections?: number;
}

export interface PhaseResult {
  phase: Phase;
  /** Responses that passed their check, per second from start to the last response. */
  requests_per_sec: number;
  ok: number;
  failed_checks: number;
  first_failure?: string;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration_s: number;
  /** From every response's own latency (autocannon's responseTime, sub-millisecond). */
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
  server_cpu_pct: number;
  server_rss_mb: number;
  /** Redis adapter only, per response. */
  round_trips_per_request?: number;
  commands_per_request?: number;
  /** code_exchange only: the code pool ran dry (those requests failed their check). */
  pool_exhausted?: boolean;
}

const BASIC = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';
const enc = encodeURIComponent;

function parse(body: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const failure = (status: number, body: string, why: string) => `${why}: ${status} ${body.slice(0, 200)}`;

export interface PeerHttpDriver {
  readonly server: PeerServer;
  /** Unredeemed code values (popped by code_exchange). */
  readonly codes: string[];
  /** Access tokens from code exchange responses (cycled by introspection and userinfo). */
  readonly accessTokens: string[];
  /** Refresh tokens waiting to be used (queue; refresh puts the rotated one back). */
  readonly refreshTokens: string[];
  /** Per-phase check counters, cumulative over every run including warm-ups. */
  readonly checks: Record<Phase, CheckCounter>;
  /** Mints n more codes in the server; returns the pool size. */
  mint(n: number, opts?: { concurrency?: number }): Promise<number>;
  /** An autocannon request (generator) for the phase; its responses update `checks`. */
  request(phase: Phase, counter?: CheckCounter): autocannon.Request;
  run(phase: Phase, opts: RunOptions): Promise<PhaseResult>;
}

export interface DriverOptions {
  /** Path of the userinfo endpoint (default the peer's `/me`). */
  userinfoPath?: string;
}

export function createPeerHttpDriver(server: PeerServer, driverOpts: DriverOptions = {}): PeerHttpDriver {
  const codes: string[] = [];
  const accessTokens: string[] = [];
  const refreshTokens: string[] = [];
  const checks = Object.fromEntries(PHASES.map((p) => [p, { ok: 0, failed: 0 }])) as Record<Phase, CheckCounter>;
  let poolExhausted = false;

  // Per connection, autocannon hands setupRequest and onResponse the same context object.
  type Conn = { sent?: string; i?: number };
  const nextAccessToken = (conn: Conn) => {
    // each connection walks the pool from its own random start
    conn.i = (conn.i ?? Math.floor(Math.random() * accessTokens.length)) + 1;
    return accessTokens[conn.i % accessTokens.length] ?? 'no-access-token';
  };

  const defs: Record<Phase, { base: autocannon.Request; setup: (req: autocannon.Request, conn: Conn) => autocannon.Request; check: (status: number, body: string, conn: Conn) => string | undefined }> = {
    code_exchange: {
      base: { method: 'POST', path: '/token', headers: { authorization: BASIC, 'content-type': FORM } },
      setup(req) {
        const code = codes.pop();
        if (code === undefined) poolExhausted = true;
        return { ...req, body: `grant_type=authorization_code&code=${enc(code ?? 'pool-exhausted')}&redirect_uri=${enc(REDIRECT_URI)}` };
      },
      check(status, body) {
        const json = status === 200 ? parse(body) : undefined;
        if (!json) return failure(status, body, 'code exchange');
        const { access_token: at, refresh_token: rt, id_token: idt } = json;
        if (typeof at !== 'string' || typeof rt !== 'string' || typeof idt !== 'string') {
          return failure(status, body, 'code exchange without access, refresh and ID token');
        }
        accessTokens.push(at);
        refreshTokens.push(rt);
        return undefined;
      },
    },
    refresh: {
      base: { method: 'POST', path: '/token', headers: { authorization: BASIC, 'content-type': FORM } },
      setup(req, conn) {
        conn.sent = refreshTokens.shift();
        return { ...req, body: `grant_type=refresh_token&refresh_token=${enc(conn.sent ?? 'queue-empty')}` };
      },
      check(status, body, conn) {
        const json = status === 200 ? parse(body) : undefined;
        const rt = json?.refresh_token;
        if (!json || typeof json.access_token !== 'string' || typeof rt !== 'string') return failure(status, body, 'refresh');
        refreshTokens.push(rt);
        // rotation is on, so the same value coming back would mean it was not rotated
        if (rt === conn.sent) return failure(status, body, 'refresh token not rotated');
        return undefined;
      },
    },
    introspection: {
      base: { method: 'POST', path: '/token/introspection', headers: { authorization: BASIC, 'content-type': FORM } },
      setup: (req, conn) => ({ ...req, body: `token=${enc(nextAccessToken(conn))}&token_type_hint=access_token` }),
      check(status, body) {
        const json = status === 200 ? parse(body) : undefined;
        if (json?.active !== true || typeof json.sub !== 'string') return failure(status, body, 'introspection');
        return undefined;
      },
    },
    userinfo: {
      base: { method: 'GET', path: driverOpts.userinfoPath ?? '/me' },
      setup: (req, conn) => ({ ...req, headers: { authorization: `Bearer ${nextAccessToken(conn)}` } }),
      check(status, body) {
        const json = status === 200 ? parse(body) : undefined;
        if (typeof json?.sub !== 'string') return failure(status, body, 'userinfo');
        return undefined;
      },
    },
  };

  const request = (phase: Phase, counter: CheckCounter = checks[phase]): autocannon.Request => {
    const def = defs[phase];
    const total = checks[phase];
    return {
      ...def.base,
      setupRequest: (req, conn) => def.setup(req, conn as Conn),
      onResponse: (status, body, conn) => {
        const why = def.check(status, body, conn as Conn);
        for (const c of counter === total ? [total] : [counter, total]) {
          if (why === undefined) c.ok += 1;
          else {
            c.failed += 1;
            c.firstFailure ??= why;
          }
        }
      },
    };
  };

  /** Runs autocannon; `timing` gets every response's latency and the time of the last response. */
  const fire = (phase: Phase, opts: RunOptions, counter: CheckCounter, timing?: { lat: number[]; last: bigint }) =>
    new Promise<autocannon.Result>((resolve, reject) => {
      const inst = autocannon(
        {
          url: server.url,
          connections: opts.connections ?? 10,
          pipelining: 1,
          ...(opts.amount ? { amount: opts.amount } : { duration: opts.duration ?? 10 }),
          requests: [request(phase, counter)],
          timeout: 30,
        },
        (err, result) => (err ? reject(err) : resolve(result)),
      );
      if (timing) {
        inst.on('response', (_client, _status, _bytes, ms) => {
          timing.lat.push(ms);
          timing.last = process.hrtime.bigint();
        });
      }
    });

  return {
    server,
    codes,
    accessTokens,
    refreshTokens,
    checks,
    async mint(n, opts = {}) {
      const minted = await server.call<string[]>('mint', { n, ...opts });
      for (const code of minted) codes.push(code);
      return codes.length;
    },
    request,
    async run(phase, opts) {
      if (phase !== 'code_exchange' && accessTokens.length === 0) {
        throw new Error(`${phase} needs tokens from a code_exchange run first`);
      }
      if (opts.warmup) await fire(phase, { ...opts, amount: undefined, duration: opts.warmup }, { ok: 0, failed: 0 });
      poolExhausted = false;
      const counter: CheckCounter = { ok: 0, failed: 0 };
      const timing = { lat: [] as number[], last: 0n };
      const before = await server.stats();
      const t0 = process.hrtime.bigint();
      const result = await fire(phase, opts, counter, timing);
      const after = await server.stats();
      // Measured up to the last response: in `amount` mode autocannon notices the end only on its
      // next 1 s tick, so its own `duration` can be up to a second too long.
      const { lat } = timing;
      const seconds = Number((timing.last || process.hrtime.bigint()) - t0) / 1e9;

      const s = latencySummary(lat);
      const out: PhaseResult = {
        phase,
        requests_per_sec: Math.round(counter.ok / seconds),
        ok: counter.ok,
        failed_checks: counter.failed,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        duration_s: round(seconds, 2),
        p50_ms: round(s.p50, 2),
        p90_ms: round(s.p90, 2),
        p99_ms: round(s.p99, 2),
        mean_ms: round(s.mean, 2),
        // the server is idle after the last response, so its CPU time is set against `seconds`
        server_cpu_pct: Math.round((100 * (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system)) / (seconds * 1e6)),
        server_rss_mb: round(after.memory.rss / 2 ** 20, 1),
      };
      if (counter.firstFailure) out.first_failure = counter.firstFailure;
      if (after.redis && before.redis && lat.length) {
        out.round_trips_per_request = round((after.redis.roundTrips - before.redis.roundTrips) / lat.length, 2);
        out.commands_per_request = round((after.redis.commands - before.redis.commands) / lat.length, 2);
      }
      if (phase === 'code_exchange' && poolExhausted) out.pool_exhausted = true;
      return out;
    },
  };
}

const round = (v: number, d: number) => (Number.isFinite(v) ? Number(v.toFixed(d)) : v);

/** Nearest-rank percentiles of the recorded latencies (ms). */
export function latencySummary(values: number[]): { p50: number; p90: number; p99: number; mean: number } {
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]! : NaN);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return { p50: at(50), p90: at(90), p99: at(99), mean };
}
