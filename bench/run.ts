/**
 * `npm run bench`: oidc-sessions against node-oidc-provider 9 (the peer), side by side, in one
 * run, on this machine (issue 6).
 *
 *   npm run bench                     full run (about 25 minutes): writes bench/results/latest.json
 *   npm run bench -- --quick          short run (< 90 s; CI runs it): writes bench/results/quick.json
 *   options: --json PATH (result file), --rounds R, --duration S (HTTP seconds per endpoint),
 *            --only model,memory,http,scaling (sections), --backends memory,redis,
 *            --profile DIR (a CPU profile of our HTTP child per measured run; summarize with
 *            `npx tsx bench/lib/cpuprofile-summary.ts FILE`)
 *
 * Sections (each system does the same work; the two alternate; medians over rounds):
 * 1. model level, in this process: login, code mint, code exchange, validation, refresh with
 *    rotation, grant revocation with 10 and 100 tokens (bench/model-compare.ts), on memory (the
 *    peer: its MemoryAdapter without eviction) and on Redis (the peer: bench/peer's adapter;
 *    ours: RedisStore);
 * 2. memory per 10k full sets (heap for memory stores, used_memory for Redis);
 * 3. HTTP level: examples/provider and the peer, each in a forked child, autocannon with 10
 *    connections (bench/http/compare.ts), Redis round trips and commands per request;
 * 4. the scaling curves of the core benchmark (bench/core.ts, ours only: the peer has none).
 * Each system gets its own private redis-server (free loopback port, no persistence), stopped
 * at the end. Ratios are ours ÷ peer from the same run; absolute figures depend on the load of
 * this shared 2-core machine (the load average is recorded).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runCoreBench, type CoreBenchResult } from './core.js';
import { runHttpCompare, SYSTEMS, type HttpSection, type System } from './http/compare.js';
import { flagValue, hasFlag, intFlag } from './lib/args.js';
import { runtimeInfo, writeJson } from './lib/json.js';
import { round } from './lib/stats.js';
import { fmt, formatTable } from './lib/table.js';
import {
  MODEL_OPS,
  ourMemoryBackend,
  ourMemoryPer10k,
  ourRedisBackend,
  peerMemoryMeasure,
  runModelCompare,
  type MemoryMeasure,
  type ModelSection,
  type OurBackend,
} from './model-compare.js';
import { USERS } from './peer/constants.js';
import { PHASES, type Phase } from './peer/http.js';
import { modelMemoryPer10k } from './peer/model.js';
import { createPeerProvider, type PeerProvider } from './peer/provider.js';
import { startPrivateRedis, type PrivateRedis } from './peer/redis-server.js';

type Backend = 'memory' | 'redis';
const SECTIONS = ['model', 'memory', 'http', 'scaling'] as const;
type Section = (typeof SECTIONS)[number];

// ---------------------------------------------------------------- the comparison table

export interface Row {
  readonly section: string;
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly ours: number;
  readonly peer: number;
  /**
   * ours ÷ peer. Throughput rows: the median over rounds of the ratio within each round (both
   * sides of a round run back to back); memory rows: ours ÷ peer of the single reading.
   */
  readonly ratio: number;
  /** Throughput rows: peer ÷ ours in CPU time per op or request, paired the same way (above 1: ours needs less CPU). */
  readonly cpu_ratio?: number;
  /** Which way is better: throughput up, memory down. */
  readonly better: 'higher' | 'lower';
  readonly target?: { readonly goal: string; readonly met: boolean };
  /** Redis round trips per op / request, when counted. */
  readonly round_trips?: { readonly ours?: number; readonly peer?: number };
  readonly note?: string;
}

export interface BenchResult {
  readonly bench: 'side-by-side';
  readonly systems: { readonly ours: string; readonly peer: string };
  readonly command: string;
  readonly quick: boolean;
  readonly runtime: ReturnType<typeof runtimeInfo> & Record<string, string | undefined>;
  readonly started_at: string;
  readonly seconds: number;
  /** 1-minute load average at the start and end of each section (2 shared cores). */
  readonly load_average: Record<string, { start: number; end: number }>;
  readonly rows: readonly Row[];
  readonly targets: readonly { id: string; goal: string; measured: number; met: boolean }[];
  /** Every failed check, per section and system; 0 expected. */
  readonly failed_checks: number;
  readonly failures: readonly string[];
  readonly model: readonly ModelSection[];
  readonly memory: readonly { backend: Backend; ours: MemoryMeasure; peer: MemoryMeasure }[];
  readonly http: readonly HttpSection[];
  readonly scaling?: Pick<CoreBenchResult, 'options' | 'columns' | 'ops' | 'targets' | 'seconds'>;
}

const ratioOf = (ours: number, peer: number) => round(peer === 0 ? NaN : ours / peer, 2);

const PHASE_LABELS: Record<Phase, string> = {
  code_exchange: 'POST /token code exchange (ES256 ID token)',
  refresh: 'POST /token refresh, rotating (ES256 ID token)',
  introspection: 'POST /token/introspection',
  userinfo: 'GET userinfo',
};

/** Targets of issue 6, keyed by row id, on the row's ratio. */
function targetOf(id: string, r: number, rts?: number): Row['target'] | undefined {
  const at = (goal: number) => ({ goal: `≥ ${goal}×`, met: r >= goal });
  switch (id) {
    case 'model.memory.full_flow':
      return at(3);
    case 'model.memory.validate':
      return at(2);
    case 'http.memory.code_exchange':
      return at(2);
    case 'http.memory.refresh':
      return at(2);
    case 'http.memory.introspection':
    case 'http.memory.userinfo':
      return at(1.2);
    case 'http.redis.code_exchange':
      return { goal: '≥ 2.5× and ≤ 2 round trips', met: r >= 2.5 && rts !== undefined && rts <= 2 };
    case 'memory.memory':
    case 'memory.redis':
      return { goal: '≤ 0.5×', met: r <= 0.5 };
    default:
      return undefined;
  }
}

function buildRows(model: readonly ModelSection[], memory: BenchResult['memory'], http: readonly HttpSection[]): Row[] {
  const rows: Row[] = [];
  for (const s of model) {
    for (const { id, label } of MODEL_OPS) {
      const p = s.ops[id];
      const rowId = `model.${s.backend}.${id}`;
      const target = targetOf(rowId, p.ratio);
      rows.push({
        section: `model, ${s.backend} (ops/s, one at a time; n = ${fmt(s.n)}, median of ${s.rounds})`,
        id: rowId,
        label,
        unit: 'ops/s',
        ours: p.ours.ops_per_sec,
        peer: p.peer.ops_per_sec,
        ratio: p.ratio,
        cpu_ratio: p.cpu_ratio,
        better: 'higher',
        ...(target && { target }),
        ...(s.backend === 'redis' && { round_trips: { ours: p.ours.round_trips_per_op, peer: p.peer.round_trips_per_op } }),
        note: `CPU µs/op: ours ${p.ours.cpu_us_per_op}, peer ${p.peer.cpu_us_per_op}${p.ours.p50_us !== undefined ? `; ours p50 ${p.ours.p50_us} µs` : ''}`,
      });
    }
  }
  for (const m of memory) {
    const rowId = `memory.${m.backend}`;
    const target = targetOf(rowId, ratioOf(m.ours.mb_per_10k, m.peer.mb_per_10k));
    rows.push({
      section: 'memory per 10k full sets',
      id: rowId,
      label: m.backend === 'memory' ? 'in-memory store: Node heapUsed' : 'Redis: used_memory',
      unit: 'MB',
      ours: m.ours.mb_per_10k,
      peer: m.peer.mb_per_10k,
      ratio: ratioOf(m.ours.mb_per_10k, m.peer.mb_per_10k),
      better: 'lower',
      ...(target && { target }),
      ...(m.ours.keys_per_set !== undefined && { note: `keys per set: ours ${m.ours.keys_per_set}, peer ${m.peer.keys_per_set}` }),
    });
  }
  for (const h of http) {
    for (const phase of PHASES) {
      const p = h.phases[phase];
      const rowId = `http.${h.backend}.${phase}`;
      const target = targetOf(rowId, p.ratio, p.ours.round_trips_per_request);
      rows.push({
        section: `HTTP, ${h.backend} (req/s, ${h.connections} connections, ${h.duration_s} s, median of ${h.rounds})`,
        id: rowId,
        label: PHASE_LABELS[phase],
        unit: 'req/s',
        ours: p.ours.requests_per_sec,
        peer: p.peer.requests_per_sec,
        ratio: p.ratio,
        cpu_ratio: p.cpu_ratio,
        better: 'higher',
        ...(target && { target }),
        ...(h.backend === 'redis' && { round_trips: { ours: p.ours.round_trips_per_request, peer: p.peer.round_trips_per_request } }),
        note: `server CPU µs/req: ours ${p.ours.server_cpu_us_per_request}, peer ${p.peer.server_cpu_us_per_request}; p50 ms: ours ${p.ours.p50_ms}, peer ${p.peer.p50_ms}` +
          (p.ours.redis_commands_per_request !== undefined
            ? `; Redis commands/req: ours ${p.ours.redis_commands_per_request}, peer ${p.peer.redis_commands_per_request}; Redis CPU µs/req: ours ${p.ours.redis_cpu_us_per_request}, peer ${p.peer.redis_cpu_us_per_request}`
            : ''),
      });
    }
  }
  return rows;
}

export function formatResult(r: BenchResult): string {
  const headers = ['', 'ours', 'peer', 'ours ÷ peer', 'CPU/op: peer ÷ ours', 'target (on ours ÷ peer)', 'Redis round trips (ours / peer)', 'notes'];
  const out: string[] = [
    `oidc-sessions vs ${r.systems.peer} — node ${r.runtime.node}${r.quick ? ', --quick (short runs: check the harness, do not quote)' : ''}`,
    `command: ${r.command}`,
    'ours ÷ peer: throughput ratio, median over rounds of the ratio within each round (the two run back to back); ' +
      'CPU/op: peer ÷ ours in CPU time per op or request, the steadier figure on a busy machine (above 1: ours needs less).',
  ];
  let section = '';
  let body: string[][] = [];
  const flush = () => {
    if (body.length) out.push('', `**${section}**`, '', formatTable(headers, body, [1, 2, 3, 4, 6]));
    body = [];
  };
  for (const row of r.rows) {
    if (row.section !== section) {
      flush();
      section = row.section;
    }
    const digits = row.unit === 'MB' ? 2 : 0;
    body.push([
      row.label,
      fmt(row.ours, digits),
      fmt(row.peer, digits),
      `${fmt(row.ratio, 2)}×`,
      row.cpu_ratio !== undefined ? `${fmt(row.cpu_ratio, 2)}×` : '',
      row.target ? `${row.target.goal} ${row.target.met ? 'met' : 'MISSED'}` : '',
      row.round_trips ? `${row.round_trips.ours ?? '—'} / ${row.round_trips.peer ?? '—'}` : '',
      row.note ?? '',
    ]);
  }
  flush();
  if (r.scaling) {
    out.push('', `**scaling curves (ours only, bench/core.ts; n = ${fmt(r.scaling.options.n)}, ${r.scaling.options.rounds} round(s))**`, '');
    const cols = r.scaling.columns;
    out.push(
      formatTable(
        ['op', ...cols.map((c) => `${c.label} ops/s`), ...cols.map((c) => `${c.label} p50 µs`)],
        r.scaling.ops.map((o) => [o.label, ...cols.map((c) => fmt(o.results[c.key]?.ops_per_sec)), ...cols.map((c) => fmt(o.results[c.key]?.p50_us, 1))]),
        cols.flatMap((_, i) => [i + 1, i + 1 + cols.length]),
      ),
      '',
      formatTable(
        ['scaling target', 'measured', 'goal', 'met'],
        r.scaling.targets.map((t) => [t.label, fmt(t.measured, 2), t.goal, t.met ? 'yes' : 'NO']),
        [1],
      ),
    );
  }
  const loads = Object.entries(r.load_average).map(([k, v]) => `${k} ${v.start}→${v.end}`).join(', ');
  out.push(
    '',
    `failed checks: ${r.failed_checks}${r.failures.length ? ` (${r.failures.join('; ')})` : ''}`,
    `targets met: ${r.targets.filter((t) => t.met).length} of ${r.targets.length}`,
    `total ${r.seconds} s; load average (1 min) per section: ${loads}`,
  );
  return out.join('\n');
}

// ---------------------------------------------------------------- running

interface RunOptions {
  quick: boolean;
  rounds: number;
  duration: number;
  sections: readonly Section[];
  backends: readonly Backend[];
  profileDir?: string;
  command: string;
  log: (line: string) => void;
}

const require = createRequire(import.meta.url);
const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;

function redisServerVersion(): string | undefined {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1];
  } catch {
    return undefined;
  }
}

export async function runBench(o: RunOptions): Promise<BenchResult> {
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const loads: BenchResult['load_average'] = {};
  const failures: string[] = [];
  const sectionTimed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const start = round(loadavg()[0]!, 2);
    o.log(`[bench] ${name} (load ${start})`);
    try {
      return await fn();
    } finally {
      loads[name] = { start, end: round(loadavg()[0]!, 2) };
    }
  };
  const wants = (s: Section) => o.sections.includes(s);

  const redis: Partial<Record<System, PrivateRedis>> = {};
  // Interrupted (Ctrl-C, kill): stop the private redis-servers too; the HTTP children exit on their own when the IPC channel closes.
  const onSignal = (signal: NodeJS.Signals) => {
    void Promise.allSettled(Object.values(redis).map((r) => r.stop())).finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const model: ModelSection[] = [];
  const memory: { backend: Backend; ours: MemoryMeasure; peer: MemoryMeasure }[] = [];
  const http: HttpSection[] = [];
  let scaling: BenchResult['scaling'];
  try {
    if (o.backends.includes('redis')) {
      for (const s of SYSTEMS) redis[s] = await startPrivateRedis();
      o.log(`[bench] private redis-servers: ours ${redis.ours!.url}, peer ${redis.peer!.url}`);
    }

    for (const backend of o.backends) {
      if (!wants('model') && !wants('memory')) break;
      let ours: OurBackend | undefined;
      let peer: PeerProvider | undefined;
      try {
        ours = backend === 'memory' ? ourMemoryBackend() : await ourRedisBackend(redis.ours!.url);
        peer = await createPeerProvider({ adapter: backend, ...(backend === 'redis' && { redisUrl: redis.peer!.url }) });
        const n = backend === 'memory' ? (o.quick ? 1000 : 20_000) : o.quick ? 200 : 5000;
        if (wants('model')) {
          model.push(await sectionTimed(`model ${backend}`, () => runModelCompare({ backend, ours: ours!, peer: peer!, n, rounds: o.rounds, log: o.log })));
        }
        if (wants('memory')) {
          const count = o.quick ? 1000 : 10_000;
          // One warm-up set per account in both modes: every user node exists before the baseline,
          // as in the full run. With fewer, a quick run billed the creation of ~900 users (ours
          // keeps a node per user, the peer none) to 1000 sets and scaled it ×10: twice the full figure.
          const warmup = USERS;
          const m = await sectionTimed(`memory ${backend}`, async () => {
            const p = peerMemoryMeasure(await modelMemoryPer10k(peer!, { count, warmup }));
            const our = await ourMemoryPer10k(ours!, count, warmup);
            return { backend, ours: our, peer: p };
          });
          for (const s of SYSTEMS) {
            const [found, of] = m[s].sample_findable.split('/');
            if (found !== of) failures.push(`memory ${backend} ${s}: only ${m[s].sample_findable} sampled tokens findable`);
          }
          memory.push(m);
          o.log(`  memory ${backend}: ours ${m.ours.mb_per_10k} MB, peer ${m.peer.mb_per_10k} MB per 10k`);
        }
      } finally {
        await peer?.close();
        await ours?.close();
      }
    }

    if (wants('http')) {
      for (const backend of o.backends) {
        const h = await sectionTimed(`http ${backend}`, () =>
          runHttpCompare({
            backend,
            ...(backend === 'redis' && { redisUrl: { ours: redis.ours!.url, peer: redis.peer!.url } }),
            rounds: o.rounds,
            duration: o.duration,
            // quick: the calibration run is the only warm-up
            warmup: o.quick ? 0 : 2,
            calibrationCodes: o.quick ? 400 : 3000,
            ...(o.profileDir && { profileDir: o.profileDir }),
            log: o.log,
          }),
        );
        for (const s of SYSTEMS) {
          if (h.checks[s].failed) failures.push(`http ${backend} ${s}: ${h.checks[s].failed} failed (${h.checks[s].first_failure ?? ''})`);
        }
        http.push(h);
      }
    }

    if (wants('scaling')) {
      const core = await sectionTimed('scaling', () =>
        runCoreBench({
          quick: o.quick,
          only: ['validate_scaling', 'mint_token_10', 'mint_token_10000'],
          memory: false,
          ...(o.quick && { n: 500, scalingSizes: [1000, 10_000] }),
          log: o.log,
        }),
      );
      scaling = { options: core.options, columns: core.columns, ops: core.ops, targets: core.targets, seconds: core.seconds };
    }
  } finally {
    for (const r of Object.values(redis)) await r.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const rows = buildRows(model, memory, http);
  // Model ops throw on a wrong outcome (the run stops); HTTP responses and memory samples are counted.
  let failedChecks = http.reduce((a, h) => a + h.checks.ours.failed + h.checks.peer.failed, 0);
  for (const m of memory) {
    for (const s of SYSTEMS) {
      const [found, of] = m[s].sample_findable.split('/').map(Number);
      failedChecks += of! - found!;
    }
  }
  return {
    bench: 'side-by-side',
    systems: { ours: `oidc-sessions ${(require('../package.json') as { version: string }).version}`, peer: `oidc-provider ${version('oidc-provider')}` },
    command: o.command,
    quick: o.quick,
    runtime: {
      ...runtimeInfo(),
      'oidc-provider': version('oidc-provider'),
      redis: version('redis'),
      autocannon: version('autocannon'),
      'redis-server': redisServerVersion(),
    },
    started_at: startedAt,
    seconds: round((Date.now() - t0) / 1000, 1),
    load_average: loads,
    rows,
    targets: rows.filter((r) => r.target).map((r) => ({ id: r.id, goal: r.target!.goal, measured: r.ratio, met: r.target!.met })),
    failed_checks: failedChecks,
    failures,
    model,
    memory,
    http,
    ...(scaling && { scaling }),
  };
}

function listFlag<T extends string>(argv: readonly string[], name: string, all: readonly T[]): T[] {
  const v = flagValue(argv, name);
  if (v === undefined) return [...all];
  const list = v.split(',').map((s) => s.trim()) as T[];
  for (const x of list) if (!all.includes(x)) throw new Error(`--${name}: unknown ${x} (one of ${all.join(', ')})`);
  return list;
}

async function main(argv: readonly string[]): Promise<void> {
  const started = Date.now();
  const quick = hasFlag(argv, 'quick');
  const json = flagValue(argv, 'json') ?? fileURLToPath(new URL(quick ? './results/quick.json' : './results/latest.json', import.meta.url));
  const result = await runBench({
    quick,
    rounds: intFlag(argv, 'rounds', quick ? 1 : 3),
    duration: intFlag(argv, 'duration', quick ? 1 : 10),
    sections: listFlag(argv, 'only', SECTIONS),
    backends: listFlag(argv, 'backends', ['memory', 'redis'] as const),
    ...(flagValue(argv, 'profile') !== undefined && { profileDir: flagValue(argv, 'profile')! }),
    command: ['npm run bench', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    log: (line) => process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s ${line}\n`),
  });
  console.log(formatResult(result));
  writeJson(json, result);
  process.stderr.write(`[bench] wrote ${json}\n`);
  if (result.failed_checks > 0) process.exitCode = 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main(process.argv.slice(2));
}
