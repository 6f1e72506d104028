/**
 * HTTP level, side by side: our example provider (bench/http/server.ts) and the peer
 * (bench/peer/http-server.ts), each in its own forked child, driven from this process by the
 * same autocannon driver (bench/peer/http.ts `createPeerHttpDriver`, with every response
 * checked), alternating system by system for each endpoint, for `rounds` rounds.
 *
 * Per endpoint and system: an unrecorded warm-up run, then the measured run (10 connections,
 * pipelining 1). Codes for the code exchange are minted over IPC before the run, outside the
 * timed window, by each system's own means; the pool is sized from the fastest rate seen so far
 * (× 2 plus a margin) and checked for exhaustion: a run whose pool ran dry is discarded (listed in
 * `discarded_runs`) and measured again with a bigger pool. With Redis, each system has its own private
 * redis-server: round trips are counted by each child's client, commands by `INFO commandstats`
 * deltas on that system's server.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RedisAdmin } from '../lib/redis-traffic.js';
import { median, medianIndex, round } from '../lib/stats.js';
import {
  createPeerHttpDriver,
  startPeerServer,
  PHASES,
  type CheckCounter,
  type PeerHttpDriver,
  type PeerServer,
  type Phase,
  type PhaseResult,
} from '../peer/http.js';

const OUR_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url));

export type System = 'ours' | 'peer';
export const SYSTEMS: readonly System[] = ['ours', 'peer'];

export interface PhaseRun extends PhaseResult {
  /** Redis only: server-side commands per request (INFO commandstats delta, Lua and MULTI bodies included). */
  redis_commands_per_request?: number;
  /** Redis only: the commands behind that figure. */
  redis_commands?: Record<string, number>;
  /** Redis only: CPU time of the redis-server per request (INFO cpu delta), µs. */
  redis_cpu_us_per_request?: number;
  /** Server CPU time (user + system, all threads) per checked response, µs: steadier than req/s on a busy machine. */
  server_cpu_us_per_request: number;
}

export interface HttpPhaseSummary {
  /** Median over rounds of requests/s (2xx responses that passed their check). */
  requests_per_sec: number;
  /** The median round's latency percentiles. */
  p50_ms: number;
  p99_ms: number;
  server_cpu_pct: number;
  /** Median over rounds. */
  server_cpu_us_per_request: number;
  round_trips_per_request?: number;
  redis_commands_per_request?: number;
  /** Median over rounds. */
  redis_cpu_us_per_request?: number;
  rounds_requests_per_sec: number[];
  failed_checks: number;
}

/** Both systems on one endpoint; rounds of the two ran back to back. */
export type HttpPhasePair = Record<System, HttpPhaseSummary> & {
  /** ours ÷ peer in requests/s: the median over rounds of the ratio within each round. */
  ratio: number;
  /** peer ÷ ours in server CPU per request, the same way (above 1: ours serves a request with less CPU). */
  cpu_ratio: number;
};

export interface HttpSection {
  backend: 'memory' | 'redis';
  rounds: number;
  duration_s: number;
  warmup_s: number;
  connections: number;
  phases: Record<Phase, HttpPhasePair>;
  runs: Record<System, PhaseRun[]>;
  /** All checks of every run (warm-ups and calibration included), per system; discarded runs are not in them. */
  checks: Record<System, { ok: number; failed: number; first_failure?: string }>;
  /** Code exchange runs whose code pool ran dry, measured again with a bigger pool (their responses, for the record). */
  discarded_runs: DiscardedRun[];
  codes_minted: Record<System, number>;
}

export interface HttpCompareOptions {
  backend: 'memory' | 'redis';
  /** Redis: each system's own private server. */
  redisUrl?: Record<System, string>;
  rounds: number;
  duration: number;
  warmup: number;
  connections?: number;
  /** Codes redeemed once per system before round 1 (warm-up and first rate estimate). */
  calibrationCodes: number;
  /** Write a CPU profile of our child for each measured run (not the warm-ups) into this directory. */
  profileDir?: string;
  log: (line: string) => void;
}

export interface DiscardedRun {
  system: System;
  round: number;
  reason: 'code pool exhausted';
  /** Responses of the discarded run (its warm-up included): those checked ok, and the failed ones. */
  ok: number;
  failed: number;
  first_failure?: string;
}

/** Attempts per code exchange run before a dry pool is reported as a failed check. */
const POOL_ATTEMPTS = 3;

interface Side {
  server: PeerServer;
  driver: PeerHttpDriver;
  admin?: RedisAdmin;
  /** Fastest code exchange rate seen, for pool sizing. */
  rate: number;
  minted: number;
}

/**
 * Codes for one code exchange run (warm-up + run) at twice the fastest rate seen (a warm server
 * outruns the calibration), plus a second of slack (autocannon stops on its 1 s tick) and a margin.
 */
const poolFor = (side: Side, o: HttpCompareOptions) => Math.ceil(side.rate * 2 * (o.duration + o.warmup + 1)) + 1000;

async function start(system: System, o: HttpCompareOptions): Promise<Side> {
  const redisUrl = o.redisUrl?.[system];
  const server = await startPeerServer({
    adapter: o.backend,
    ...(redisUrl && { redisUrl }),
    ...(system === 'ours' && { entry: OUR_ENTRY, label: 'our server' }),
  });
  const driver = createPeerHttpDriver(server, system === 'ours' ? { userinfoPath: '/userinfo' } : {});
  const admin = o.backend === 'redis' && redisUrl ? await RedisAdmin.connect(redisUrl) : undefined;
  if (admin) await admin.flush();
  return { server, driver, ...(admin && { admin }), rate: 0, minted: 0 };
}

async function mintUpTo(side: Side, wanted: number): Promise<void> {
  const missing = wanted - side.driver.codes.length;
  if (missing > 0) {
    await side.driver.mint(missing);
    side.minted += missing;
  }
}

async function measured(side: Side, phase: Phase, o: HttpCompareOptions, profilePath?: string): Promise<PhaseRun & { checks_before?: CheckCounter }> {
  const connections = o.connections ?? 10;
  const checksBefore = { ...side.driver.checks[phase] };
  if (o.warmup > 0) await side.driver.run(phase, { duration: o.warmup, connections });
  const before = await side.admin?.commandCalls();
  const cpu0 = await side.admin?.cpuSeconds();
  if (profilePath) await side.server.call('profileStart');
  const run = await side.driver.run(phase, { duration: o.duration, connections });
  if (profilePath) await side.server.call('profileStop', { path: profilePath });
  const cpu1 = await side.admin?.cpuSeconds();
  const after = await side.admin?.commandCalls();
  const requests = run.ok + run.failed_checks;
  // server_cpu_pct is CPU time over the run's wall time
  const res: PhaseRun & { checks_before?: CheckCounter } = {
    ...run,
    server_cpu_us_per_request: requests ? Math.round((run.server_cpu_pct * 1e4 * run.duration_s) / requests) : NaN,
    checks_before: checksBefore,
  };
  if (cpu0 !== undefined && cpu1 !== undefined && requests > 0) res.redis_cpu_us_per_request = round(((cpu1 - cpu0) * 1e6) / requests, 1);
  if (before && after && requests > 0) {
    res.redis_commands_per_request = round((after.total - before.total) / requests, 2);
    const delta: Record<string, number> = {};
    for (const [k, v] of Object.entries(after.byCommand)) {
      const d = v - (before.byCommand[k] ?? 0);
      if (d > 0 && !/^(info|config|dbsize|flushall)$/.test(k)) delta[k] = round(d / requests, 2);
    }
    res.redis_commands = delta;
  }
  return res;
}

function summarize(runs: PhaseRun[]): HttpPhaseSummary {
  const m = runs[medianIndex(runs.map((r) => r.requests_per_sec))]!;
  return {
    requests_per_sec: m.requests_per_sec,
    p50_ms: m.p50_ms,
    p99_ms: m.p99_ms,
    server_cpu_pct: m.server_cpu_pct,
    server_cpu_us_per_request: median(runs.map((r) => r.server_cpu_us_per_request)),
    ...(m.round_trips_per_request !== undefined && { round_trips_per_request: m.round_trips_per_request }),
    ...(m.redis_commands_per_request !== undefined && { redis_commands_per_request: m.redis_commands_per_request }),
    ...(m.redis_cpu_us_per_request !== undefined && { redis_cpu_us_per_request: median(runs.map((r) => r.redis_cpu_us_per_request!)) }),
    rounds_requests_per_sec: runs.map((r) => r.requests_per_sec),
    failed_checks: runs.reduce((a, r) => a + r.failed_checks, 0),
  };
}

/** Both systems, every endpoint, alternating; medians over rounds. */
export async function runHttpCompare(o: HttpCompareOptions): Promise<HttpSection> {
  const sides = {} as Record<System, Side>;
  if (o.profileDir) mkdirSync(o.profileDir, { recursive: true });
  try {
    for (const system of SYSTEMS) sides[system] = await start(system, o);
    const runs: Record<System, PhaseRun[]> = { ours: [], peer: [] };
    const discarded: DiscardedRun[] = [];
    const connections = o.connections ?? 10;

    // Calibration: redeems a first pool (warms both servers up, gives tokens to the later phases).
    for (const system of SYSTEMS) {
      const side = sides[system];
      await mintUpTo(side, o.calibrationCodes);
      const cal = await side.driver.run('code_exchange', { amount: o.calibrationCodes, connections });
      side.rate = cal.requests_per_sec;
      o.log(`  http ${o.backend} ${system}: calibration ${cal.requests_per_sec} code exchanges/s (${cal.failed_checks} failed)`);
    }

    for (let r = 0; r < o.rounds; r++) {
      for (const [i, phase] of PHASES.entries()) {
        const order: System[] = (r + i) % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
        if (phase === 'code_exchange') {
          // Outside the timed window.
          for (const system of SYSTEMS) await mintUpTo(sides[system], poolFor(sides[system], o));
        }
        for (const system of order) {
          const side = sides[system];
          const profilePath = o.profileDir && system === 'ours' ? join(o.profileDir, `ours-${o.backend}-${phase}-r${r + 1}.cpuprofile`) : undefined;
          let res = await measured(side, phase, o, profilePath);
          // A pool that runs dry mid-run leaves the rest of the run redeeming a placeholder code
          // (refused as unknown): the figures mean nothing. The run is measured again with a pool
          // sized for twice the rate; the dry one is kept in `discarded_runs`, its responses out of
          // the checks. The calibration (a short cold run) can underestimate a warm server this much.
          for (let attempt = 1; phase === 'code_exchange' && res.pool_exhausted && attempt < POOL_ATTEMPTS; attempt++) {
            const checks = side.driver.checks.code_exchange;
            const c = res.checks_before!;
            discarded.push({
              system,
              round: r + 1,
              reason: 'code pool exhausted',
              ok: checks.ok - c.ok,
              failed: checks.failed - c.failed,
              ...(res.first_failure !== undefined && { first_failure: res.first_failure }),
            });
            Object.assign(checks, c);
            if (c.firstFailure === undefined) delete checks.firstFailure;
            side.rate = Math.max(side.rate, res.requests_per_sec) * 2;
            await mintUpTo(side, poolFor(side, o));
            o.log(`  http ${o.backend} round ${r + 1}/${o.rounds} code_exchange ${system}: code pool ran dry, run discarded, again with ${side.driver.codes.length} codes`);
            res = await measured(side, phase, o, profilePath);
          }
          delete res.checks_before;
          if (phase === 'code_exchange') side.rate = Math.max(side.rate, res.requests_per_sec);
          runs[system].push(res);
          o.log(
            `  http ${o.backend} round ${r + 1}/${o.rounds} ${phase} ${system}: ${res.requests_per_sec} req/s, p50 ${res.p50_ms} ms` +
              `${res.round_trips_per_request !== undefined ? `, ${res.round_trips_per_request} round trips/req` : ''}` +
              `${res.failed_checks ? `, ${res.failed_checks} FAILED (${res.first_failure})` : ''}${res.pool_exhausted ? ', POOL EXHAUSTED' : ''}`,
          );
        }
      }
    }

    const phases = {} as HttpSection['phases'];
    for (const phase of PHASES) {
      const ours = runs.ours.filter((x) => x.phase === phase);
      const peer = runs.peer.filter((x) => x.phase === phase);
      phases[phase] = {
        ours: summarize(ours),
        peer: summarize(peer),
        ratio: round(median(ours.map((x, i) => x.requests_per_sec / peer[i]!.requests_per_sec)), 2),
        cpu_ratio: round(median(ours.map((x, i) => peer[i]!.server_cpu_us_per_request / x.server_cpu_us_per_request)), 2),
      };
    }
    const checks = {} as HttpSection['checks'];
    for (const system of SYSTEMS) {
      const all = Object.values(sides[system].driver.checks);
      const first = all.find((c) => c.firstFailure)?.firstFailure;
      checks[system] = {
        ok: all.reduce((a, c) => a + c.ok, 0),
        failed: all.reduce((a, c) => a + c.failed, 0),
        ...(first && { first_failure: first }),
      };
      if (runs[system].some((x) => x.pool_exhausted)) {
        checks[system].failed += 1;
        checks[system].first_failure ??= 'code pool exhausted';
      }
    }
    return {
      backend: o.backend,
      rounds: o.rounds,
      duration_s: o.duration,
      warmup_s: o.warmup,
      connections,
      phases,
      runs,
      checks,
      discarded_runs: discarded,
      codes_minted: { ours: sides.ours.minted, peer: sides.peer.minted },
    };
  } finally {
    for (const side of Object.values(sides)) {
      await side.server.close().catch(() => {});
      await side.admin?.close();
    }
  }
}
