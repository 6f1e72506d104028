/**
 * HTTP level, side by side: our example provider (bench/http/server.ts) and the peer
 * (bench/peer/http-server.ts), each in its own forked child, driven from this process by the
 * same autocannon driver (bench/peer/http.ts `createPeerHttpDriver`, with every response
 * checked), alternating system by system for each endpoint, for `rounds` rounds.
 *
 * Per endpoint and system: an unrecorded warm-up run, then the measured run (10 connections,
 * pipelining 1). Codes for the code exchange are minted over IPC before the run, outside the
 * timed window, by each system's own means; the pool is sized from the fastest rate seen so far
 * (× 2 plus a margin) and checked for exhaustion. With Redis, each system has its own private
 * redis-server: round trips are counted by each child's client, commands by `INFO commandstats`
 * deltas on that system's server.
 */
import { fileURLToPath } from 'node:url';
import { RedisAdmin } from '../lib/redis-traffic.js';
import { medianIndex, round } from '../lib/stats.js';
import { createPeerHttpDriver, startPeerServer, PHASES, type PeerHttpDriver, type PeerServer, type Phase, type PhaseResult } from '../peer/http.js';

const OUR_ENTRY = fileURLToPath(new URL('./server.ts', import.meta.url));

export type System = 'ours' | 'peer';
export const SYSTEMS: readonly System[] = ['ours', 'peer'];

export interface PhaseRun extends PhaseResult {
  /** Redis only: server-side commands per request (INFO commandstats delta, Lua and MULTI bodies included). */
  redis_commands_per_request?: number;
  /** Redis only: the commands behind that figure. */
  redis_commands?: Record<string, number>;
}

export interface HttpPhaseSummary {
  /** Median over rounds of requests/s (2xx responses that passed their check). */
  requests_per_sec: number;
  /** The median round's latency percentiles. */
  p50_ms: number;
  p99_ms: number;
  server_cpu_pct: number;
  round_trips_per_request?: number;
  redis_commands_per_request?: number;
  rounds_requests_per_sec: number[];
  failed_checks: number;
}

export interface HttpSection {
  backend: 'memory' | 'redis';
  rounds: number;
  duration_s: number;
  warmup_s: number;
  connections: number;
  phases: Record<Phase, Record<System, HttpPhaseSummary>>;
  runs: Record<System, PhaseRun[]>;
  /** All checks of every run (warm-ups and calibration included), per system. */
  checks: Record<System, { ok: number; failed: number; first_failure?: string }>;
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
  /** Extra node flags for our child (e.g. `--cpu-prof --cpu-prof-dir DIR`). */
  ourExecArgv?: string[];
  peerExecArgv?: string[];
  log: (line: string) => void;
}

interface Side {
  server: PeerServer;
  driver: PeerHttpDriver;
  admin?: RedisAdmin;
  /** Fastest code exchange rate seen, for pool sizing. */
  rate: number;
  minted: number;
}

async function start(system: System, o: HttpCompareOptions): Promise<Side> {
  const redisUrl = o.redisUrl?.[system];
  const server = await startPeerServer({
    adapter: o.backend,
    ...(redisUrl && { redisUrl }),
    ...(system === 'ours' ? { entry: OUR_ENTRY, label: 'our server', execArgv: o.ourExecArgv ?? [] } : { execArgv: o.peerExecArgv ?? [] }),
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

async function measured(side: Side, phase: Phase, o: HttpCompareOptions): Promise<PhaseRun> {
  const connections = o.connections ?? 10;
  if (o.warmup > 0) await side.driver.run(phase, { duration: o.warmup, connections });
  const before = await side.admin?.commandCalls();
  const res: PhaseRun = await side.driver.run(phase, { duration: o.duration, connections });
  const after = await side.admin?.commandCalls();
  const requests = res.ok + res.failed_checks;
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
    ...(m.round_trips_per_request !== undefined && { round_trips_per_request: m.round_trips_per_request }),
    ...(m.redis_commands_per_request !== undefined && { redis_commands_per_request: m.redis_commands_per_request }),
    rounds_requests_per_sec: runs.map((r) => r.requests_per_sec),
    failed_checks: runs.reduce((a, r) => a + r.failed_checks, 0),
  };
}

/** Both systems, every endpoint, alternating; medians over rounds. */
export async function runHttpCompare(o: HttpCompareOptions): Promise<HttpSection> {
  const sides = {} as Record<System, Side>;
  try {
    for (const system of SYSTEMS) sides[system] = await start(system, o);
    const runs: Record<System, PhaseRun[]> = { ours: [], peer: [] };
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
          // Outside the timed window: enough codes for warm-up + run at twice the fastest rate seen
          // (a warm server outruns the calibration), plus a second of slack (autocannon stops on
          // its 1 s tick) and a margin.
          for (const system of SYSTEMS) {
            const side = sides[system];
            await mintUpTo(side, Math.ceil(side.rate * 2 * (o.duration + o.warmup + 1)) + 1000);
          }
        }
        for (const system of order) {
          const side = sides[system];
          const res = await measured(side, phase, o);
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
      phases[phase] = {
        ours: summarize(runs.ours.filter((x) => x.phase === phase)),
        peer: summarize(runs.peer.filter((x) => x.phase === phase)),
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
      codes_minted: { ours: sides.ours.minted, peer: sides.peer.minted },
    };
  } finally {
    for (const side of Object.values(sides)) {
      await side.server.close().catch(() => {});
      await side.admin?.close();
    }
  }
}
