/**
 * `npm run bench -- --quick` keeps working: the side-by-side harness (bench/run.ts) runs end to
 * end — both systems, model and HTTP level, memory and Redis — and every response and sample it
 * checks passes. Speed is not asserted here (the figures of a short run on a busy CI machine
 * mean nothing); only the shape of the result and that nothing failed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchResult } from '../../bench/run.js';

const MODEL_OPS = ['login', 'code_mint', 'code_exchange', 'validate', 'refresh_rotate', 'revoke_grant_10', 'revoke_grant_100', 'full_flow'];
const PHASES = ['code_exchange', 'refresh', 'introspection', 'userinfo'];

function positive(v: unknown, what: string): void {
  assert.ok(typeof v === 'number' && Number.isFinite(v) && v > 0, `${what} should be a positive number, got ${String(v)}`);
}

describe('npm run bench -- --quick', function () {
  // The short run takes about a minute on an idle 2-core machine; CI machines are busier.
  this.timeout(300_000);
  let dir: string;
  let result: BenchResult;
  let stdout = '';
  let stderr = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bench-quick-'));
    const json = join(dir, 'quick.json');
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', '--quick', '--json', json], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 0, `bench exited with ${code}\n${stderr.slice(-4000)}`);
    result = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
  });

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('checks every response and sample, and none failed', () => {
    assert.equal(result.failed_checks, 0, result.failures.join('; '));
    assert.deepEqual(result.failures, []);
    for (const h of result.http) {
      for (const system of ['ours', 'peer'] as const) {
        assert.equal(h.checks[system].failed, 0, `${h.backend} ${system}: ${h.checks[system].first_failure}`);
        positive(h.checks[system].ok, `${h.backend} ${system} checked responses`);
      }
    }
    for (const m of result.memory) {
      for (const system of ['ours', 'peer'] as const) {
        const [found, of] = m[system].sample_findable.split('/').map(Number);
        assert.ok(of! > 0 && found === of, `${m.backend} ${system}: ${m[system].sample_findable} sampled tokens findable`);
      }
    }
  });

  it('has both systems side by side, with ratios, on memory and Redis, at model and HTTP level', () => {
    assert.equal(result.bench, 'side-by-side');
    assert.equal(result.quick, true);
    assert.match(result.systems.peer, /^oidc-provider 9\./);
    const ids = new Set(result.rows.map((r) => r.id));
    for (const backend of ['memory', 'redis']) {
      for (const op of MODEL_OPS) assert.ok(ids.has(`model.${backend}.${op}`), `row model.${backend}.${op}`);
      for (const phase of PHASES) assert.ok(ids.has(`http.${backend}.${phase}`), `row http.${backend}.${phase}`);
      assert.ok(ids.has(`memory.${backend}`), `row memory.${backend}`);
    }
    for (const row of result.rows) {
      positive(row.ours, `${row.id} ours`);
      positive(row.peer, `${row.id} peer`);
      positive(row.ratio, `${row.id} ratio`);
      if (row.id.startsWith('memory.')) assert.ok(Math.abs(row.ratio - row.ours / row.peer) <= 0.006, `${row.id}: ratio ${row.ratio} is ours ÷ peer`);
      else positive(row.cpu_ratio, `${row.id} CPU ratio`);
    }
    // Throughput ratios are paired per round: with one round, the ratio of that round.
    const one = result.model[0]!.ops.validate;
    assert.ok(Math.abs(one.ratio - one.rounds.ours[0]!.ops_per_sec / one.rounds.peer[0]!.ops_per_sec) <= 0.006, 'model ratio is ours ÷ peer');
  });

  it('counts Redis round trips per op and per request for both systems', () => {
    for (const row of result.rows.filter((r) => r.id.startsWith('model.redis.') || r.id.startsWith('http.redis.'))) {
      positive(row.round_trips?.ours, `${row.id} our round trips`);
      positive(row.round_trips?.peer, `${row.id} peer round trips`);
    }
    const redisHttp = result.http.find((h) => h.backend === 'redis')!;
    for (const phase of PHASES) {
      positive(redisHttp.phases[phase as 'code_exchange'].ours.redis_commands_per_request, `${phase} our Redis commands`);
      positive(redisHttp.phases[phase as 'code_exchange'].peer.redis_commands_per_request, `${phase} peer Redis commands`);
    }
  });

  it('evaluates the targets, includes the core scaling curves, records the load, and prints the table', () => {
    assert.ok(result.targets.length >= 9, 'targets evaluated');
    for (const t of result.targets) assert.equal(typeof t.met, 'boolean');
    assert.ok(result.scaling && result.scaling.ops.some((o) => o.id.startsWith('validate_token_')), 'validation scaling rows');
    assert.ok(Object.keys(result.load_average).length >= 4, 'load average per section');
    assert.match(stdout, /\| *ours *\| *peer *\| *ours ÷ peer/);
    assert.match(stdout, /failed checks: 0/);
  });
});
