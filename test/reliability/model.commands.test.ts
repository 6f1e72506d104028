/**
 * Model-based test (SPEC §9, issue 7 item 1) with fast-check commands, on both stores: random
 * interleavings of createSession/addGrant, mintToken, redeemCode, refresh, the three revokes,
 * logoutUser, removeSession, browser sessions, purgeExpired and dump → load into a fresh store,
 * with a clock the commands move. After every step (`verify` in model-commands.ts): the audit
 * finds no orphan, no active token under an inactive ancestor and no index entry without a live
 * member (memory: the hash index; Redis: every key under the prefix), the store holds the tree
 * the model holds, and both agree on which tokens are active.
 *
 * Ids are hostile (separators, `__proto__`, unicode, 2 kB); reuse policies and the refresh grace
 * window vary per run. Run counts keep both suites well under two minutes on a 2-core CI machine.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryStore } from '../../src/store/memory-store.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { ReusePolicy } from '../../src/store/store.js';
import type { SessionManagerOptions } from '../../src/manager/options.js';
import { HOSTILE_IDS, TestClock, makeManager, prototypeSnapshot } from '../conformance/harness.js';
import { deletePrefix, singleServerPerSuite, uniquePrefix } from '../redis/helpers.js';
import { commandArbitraries, verify, type Counters, type Real } from './model-commands.js';
import { TreeModel } from '../helpers/tree-model.js';

const idArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_IDS) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }) },
);
const policyArb = fc.constantFrom<ReusePolicy>('grant', 'descendants', 'none');

function managerOptions(code: ReusePolicy, refresh: ReusePolicy, graceSeconds: number): SessionManagerOptions {
  return {
    grantLifetime: 3600,
    tokenPolicies: { authorization_code: { expiresIn: 300 }, access_token: { expiresIn: 600 }, refresh_token: { expiresIn: 1800 } },
    reusePolicy: { code, refresh },
    refresh: { graceSeconds },
  };
}

const newCounters = (): Counters => ({ commands: 0, checks: 0, introspections: 0, dumpLoads: 0, typedErrors: 0, outcomes: new Map() });

function report(label: string, runs: number, c: Counters): void {
  console.log(
    `      ${label}: ${runs} runs, ${c.commands} commands, ${c.checks} invariant checks, ${c.introspections} introspections, ` +
      `${c.dumpLoads} dump/loads, ${c.typedErrors} typed errors`,
  );
  const ops = [...c.outcomes].filter(([k]) => k.includes(' ')).sort(([a], [b]) => (a < b ? -1 : 1));
  console.log(`      ${label} outcomes: ${ops.map(([k, n]) => `${k} ${n}`).join(', ')}`);
}

/** What one store's suite plugs into {@link treeProperty}. */
interface Target {
  /** Runs started so far, and what their commands did. */
  readonly stats: { runs: number; readonly counters: Counters };
  /** The model's lazyExpiry: a Redis store drops a user whose every record has expired. */
  readonly lazyExpiry: boolean;
  /** The system under test of one run: a manager on a new, empty store. */
  real(clock: TestClock, options: SessionManagerOptions): Real;
  /** After each run, however it ended. */
  afterRun?(): Promise<void>;
}

/**
 * The property both stores run: hostile user and client ids, reuse policies and the grace window
 * vary per run; the model and the real manager start empty and agree at setup and after every
 * command.
 */
function treeProperty(target: Target) {
  return fc.asyncProperty(
    fc.uniqueArray(idArb, { minLength: 1, maxLength: 3 }),
    fc.uniqueArray(idArb, { minLength: 1, maxLength: 2 }),
    policyArb,
    policyArb,
    fc.constantFrom(0, 5),
    fc.commands(commandArbitraries, { maxCommands: 100, size: 'max' }),
    async (userIds, clientIds, code, refresh, grace, cmds) => {
      target.stats.runs++;
      const clock = new TestClock();
      const options = managerOptions(code, refresh, grace);
      const setup = async () => {
        const real = target.real(clock, options);
        const model = new TreeModel(userIds, clientIds, { code, refresh, graceMs: grace * 1000 }, target.lazyExpiry, clock);
        await verify(model, real, 'setup');
        return { model, real };
      };
      try {
        await fc.asyncModelRun(setup, cmds);
      } finally {
        await target.afterRun?.();
      }
    },
  );
}

describe('reliability: model-based commands on MemoryStore', function () {
  this.timeout(120_000);

  it('random interleavings keep every invariant and agree with the model after every step', async () => {
    const protoBefore = prototypeSnapshot();
    const stats = { runs: 0, counters: newCounters() };
    const target: Target = {
      stats,
      lazyExpiry: false,
      real: (clock, options) => {
        const store = new MemoryStore();
        return {
          kind: 'memory',
          clock,
          options,
          manager: makeManager(store, clock, options),
          store,
          prefix: '',
          fresh: async () => ({ store: new MemoryStore(), prefix: '' }),
          discard: async () => {},
          counters: stats.counters,
        };
      },
    };
    await fc.assert(treeProperty(target), { numRuns: 100 });
    report('memory', stats.runs, stats.counters);
    assert.ok(stats.counters.commands > 3000, `too few commands ran (${stats.counters.commands})`);
    assert.deepEqual(prototypeSnapshot(), protoBefore, 'Object.prototype unchanged');
  });
});

describe('reliability: model-based commands on RedisStore (private redis-server)', function () {
  this.timeout(150_000);
  // Extra arguments: always a private server, never a shared REDIS_URL (the audit reads every key).
  const fx = singleServerPerSuite(['--maxmemory-policy', 'noeviction']);

  it('random interleavings keep every invariant and agree with the model after every step', async () => {
    const stats = { runs: 0, counters: newCounters() };
    const target: Target = {
      stats,
      lazyExpiry: true,
      real: (clock, options) => {
        const newStore = () => {
          const prefix = uniquePrefix();
          // The records' clock is the test clock: TTLs are shifted by its distance to real time.
          return { store: new RedisStore({ client: fx.client, prefix, clock: clock.read }), prefix };
        };
        const first = newStore();
        return {
          kind: 'redis',
          clock,
          options,
          manager: makeManager(first.store, clock, options),
          store: first.store,
          prefix: first.prefix,
          redis: fx.client,
          fresh: async () => newStore(),
          discard: (prefix) => deletePrefix(fx.client, prefix),
          counters: stats.counters,
        };
      },
      // Each run's keys go: the next run's audit reads its own prefix only, and SCAN stays short.
      afterRun: async () => {
        await fx.client.flushDb();
      },
    };
    await fc.assert(treeProperty(target), { numRuns: 60 });
    report('redis', stats.runs, stats.counters);
    assert.ok(stats.counters.commands > 1500, `too few commands ran (${stats.counters.commands})`);
  });
});
