/**
 * Model level, side by side: the same work done by oidc-sessions' SessionManager and by the
 * peer's models (bench/peer/model.ts), in one process, alternating, on the same kind of store.
 *
 * | op | ours | peer (bench/peer/model.ts) |
 * |---|---|---|
 * | login | createSession (user and client nodes as needed + grant) | Session + Grant saved |
 * | login + browser session (informational) | startBrowserSession + createSession | Session + Grant saved |
 * | code mint | mintToken('authorization_code', codeBinding) from the grant | AuthorizationCode saved |
 * | code exchange | redeemCode → AT + RT | find code, find grant, consume, save AT + RT |
 * | validation | validateToken(AT) | AccessToken.find + isValid |
 * | refresh with rotation | refresh(RT) → AT + new RT | find RT, find grant, consume, save RT + AT |
 * | revoke grant (k ATs) | revokeGrant | revokeByGrantId × 3 + Grant destroy |
 *
 * "Login" follows the peer harness's own equivalence (shared/peer-bench README: Session + Grant
 * is "our product's create a session for (user, client)"): the grant carries the authentication
 * event; the grant is bound to the user's logged-in browser, whose browser-session record
 * (kept for the Express layer's logout) is made once per user, untimed, as a browser logs in
 * once and then authorizes. The informational row also times that record, one per login.
 * Load is spread over 1000 accounts on both sides.
 *
 * Neither side signs an ID token here (the peer's model ops leave that to /token; the HTTP level
 * signs ES256 ID tokens on both). Both sides are measured the same way: fresh (empty) store,
 * untimed warm-up of n/10 on other inputs, untimed setup of n inputs, a full GC, then the timed
 * loop of n ops one after another; ops/s = n / wall time of the loop. Round trips per op are
 * counted in the client on both sides.
 *
 * Full flow (login + code mint + code exchange, one user after another) is timed as one op on
 * both sides, the same way; the peer's steps are those of its login, code mint and code
 * exchange ops (bench/peer/fixtures.ts). It differs from the sum of the three separate ops:
 * there, each step's inputs were made long before (ours then opens a sealed session id its
 * 4096-entry memo no longer holds), here each step follows the previous, as in a real login.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { InactiveToken, MemoryStore, RedisStore, SessionManager, type SessionStore } from '../src/index.js';
import type { StoreBackend } from './core.js';
import { settledHeap } from './lib/gc.js';
import { countClientRoundTrips, RedisAdmin, type RoundTripStats } from './lib/redis-traffic.js';
import { median, medianIndex, round } from './lib/stats.js';
import { parallel, timeLoop } from './lib/timing.js';
import { LoggedInBrowsers, MANAGER_OPTIONS, browserLogin, consent, issueCode, type BrowserLogin } from './http/fixtures.js';
import { CLIENT_ID, REDIRECT_URI, accountFor } from './peer/constants.js';
import { benchClient, codeSource, createLogin, newAccessToken, newCode, newRefreshToken } from './peer/fixtures.js';
import { createPeerModelBench, type MemoryResult as PeerMemoryResult, type ModelOp, type PeerModelBench } from './peer/model.js';
import type { PeerProvider } from './peer/provider.js';
import type { AuthorizationCode } from 'oidc-provider';

// ---------------------------------------------------------------- our stores

/** A store for our side; also a core.ts {@link StoreBackend}, so the core scaling curves can run on it. */
export interface OurBackend extends StoreBackend {
  readonly name: 'memory' | 'redis';
  /** Redis only: round trips of the store's client. */
  readonly traffic?: RoundTripStats;
  /** Redis only: server memory and keys. */
  redisMemory?(): Promise<{ usedMemory: number; keys: number }>;
}

export function ourMemoryBackend(): OurBackend {
  return {
    name: 'memory',
    concurrency: [1],
    fresh: async () => new MemoryStore(),
    usedBytes: async () => (await settledHeap()).heapUsed,
    close: async () => {},
  };
}

/** RedisStore on its own node-redis client (round trips counted), on a private redis-server. */
export async function ourRedisBackend(url: string): Promise<OurBackend> {
  const client = createClient({ url, disableOfflineQueue: true });
  client.on('error', () => {});
  const traffic = countClientRoundTrips(client);
  await client.connect();
  const admin = await RedisAdmin.connect(url);
  const store = new RedisStore({ client, prefix: 'bench:', commandTimeout: 10_000 });
  return {
    name: 'redis',
    concurrency: [1],
    traffic,
    fresh: async () => {
      await admin.flush();
      return store;
    },
    usedBytes: async () => (await admin.memory()).usedMemory,
    redisMemory: () => admin.memory(),
    close: async () => {
      await admin.close();
      await client.close().catch(() => {});
    },
  };
}

const SECRETS = { sessionIdKeys: [{ kid: 'bench', key: randomBytes(32) }], subjectSalt: randomBytes(32) };

function newManager(store: SessionStore): SessionManager {
  // No `jwt`: no ID tokens at the model level, as on the peer's side.
  return new SessionManager({ ...MANAGER_OPTIONS, store, secrets: SECRETS, logger: { warn: () => {} } });
}

// ---------------------------------------------------------------- our ops

export interface ModelMeasure {
  ops_per_sec: number;
  /**
   * CPU time of this process (user + system, all threads: GC included) over the timed loop, per
   * op. On a shared machine it moves far less with the load than ops/s: time this process
   * waits for a core is not in it. With Redis it leaves out the wait for the server.
   */
  cpu_us_per_op: number;
  n: number;
  /** Ours only (the peer's loop is timed as a whole). */
  p50_us?: number;
  p99_us?: number;
  round_trips_per_op?: number;
}

const SETUP_CONCURRENCY = 64;
let accountSeq = 0;
const nextAccounts = (n: number) => Array.from({ length: n }, () => accountFor(accountSeq++));

interface Grant {
  readonly sessionId: string;
  readonly login: BrowserLogin;
}

const browsers = new WeakMap<SessionManager, LoggedInBrowsers>();

/** Grants for the inputs of an op: consent by each user's one logged-in browser (see LoggedInBrowsers). */
async function logins(m: SessionManager, count: number): Promise<Grant[]> {
  const accounts = nextAccounts(count);
  const logged = browsersOf(m);
  return parallel(
    count,
    async (i) => {
      const login = await logged.of(accounts[i]!);
      return { sessionId: await consent(m, login), login };
    },
    SETUP_CONCURRENCY,
  );
}

async function codes(m: SessionManager, count: number): Promise<string[]> {
  const gs = await logins(m, count);
  return parallel(count, (i) => issueCode(m, gs[i]!.sessionId, gs[i]!.login), SETUP_CONCURRENCY);
}

async function tokenSets(m: SessionManager, count: number): Promise<{ access: string; refresh: string }[]> {
  const cs = await codes(m, count);
  return parallel(
    count,
    async (i) => {
      const set = await m.redeemCode(cs[i]!, { clientId: CLIENT_ID, redirectUri: REDIRECT_URI });
      return { access: set.accessToken.value, refresh: set.refreshToken!.value };
    },
    SETUP_CONCURRENCY,
  );
}

interface OurOp<I> {
  setup(m: SessionManager, n: number): Promise<I[]>;
  run(m: SessionManager, input: I): Promise<unknown>;
  verify?(m: SessionManager, inputs: readonly I[]): Promise<void>;
}

async function expectRevoked(m: SessionManager, value: string): Promise<void> {
  try {
    await m.validateToken(value);
  } catch (e) {
    if (e instanceof InactiveToken) return;
    throw e;
  }
  throw new Error('model bench: a token of a revoked grant is still active');
}

function revokeOp(k: number): OurOp<{ sessionId: string; sample: string }> {
  return {
    async setup(m, n) {
      const gs = await logins(m, n);
      const tokens = await parallel(n * k, async (j) => (await m.mintToken(gs[Math.floor(j / k)]!.sessionId, 'access_token')).value, SETUP_CONCURRENCY);
      return gs.map((g, i) => ({ sessionId: g.sessionId, sample: tokens[i * k]! }));
    },
    run: (m, input) => m.revokeGrant(input.sessionId),
    verify: async (m, inputs) => {
      for (const input of inputs.slice(0, 50)) await expectRevoked(m, input.sample);
    },
  };
}

function browsersOf(m: SessionManager): LoggedInBrowsers {
  let b = browsers.get(m);
  if (!b) browsers.set(m, (b = new LoggedInBrowsers(m)));
  return b;
}

const OUR_OPS: Record<ModelOpId, OurOp<any>> = {
  login: {
    // the users' browsers log in during setup; the op is the consent's grant
    setup: async (m, n) => {
      const b = browsersOf(m);
      const accounts = nextAccounts(n);
      return parallel(n, (i) => b.of(accounts[i]!), SETUP_CONCURRENCY);
    },
    run: (m, login: BrowserLogin) => consent(m, login),
  },
  login_browser: {
    setup: async (_m, n) => nextAccounts(n),
    run: async (m, userId: string) => consent(m, await browserLogin(m, userId)),
  },
  code_mint: {
    setup: logins,
    run: (m, g: Grant) => issueCode(m, g.sessionId, g.login),
  },
  code_exchange: {
    setup: codes,
    run: async (m, code: string) => {
      const set = await m.redeemCode(code, { clientId: CLIENT_ID, redirectUri: REDIRECT_URI });
      if (!set.refreshToken || set.idToken) throw new Error('model bench: code exchange did not give AT + RT only');
    },
  },
  validate: {
    setup: async (m, n) => (await tokenSets(m, n)).map((s) => s.access),
    run: async (m, value: string) => {
      const v = await m.validateToken(value, { tokenClass: 'access_token' });
      if (v.token.class !== 'access_token') throw new Error('model bench: validateToken gave the wrong class');
    },
  },
  refresh_rotate: {
    setup: async (m, n) => (await tokenSets(m, n)).map((s) => s.refresh),
    run: async (m, value: string) => {
      const set = await m.refresh(value, { clientId: CLIENT_ID });
      if (!set.refreshToken || set.refreshToken.value === value) throw new Error('model bench: refresh did not rotate');
    },
  },
  revoke_grant_10: revokeOp(10),
  revoke_grant_100: revokeOp(100),
  full_flow: {
    setup: async (m, n) => {
      const b = browsersOf(m);
      const accounts = nextAccounts(n);
      return parallel(n, (i) => b.of(accounts[i]!), SETUP_CONCURRENCY);
    },
    run: async (m, login: BrowserLogin) => {
      const code = await issueCode(m, await consent(m, login), login);
      const set = await m.redeemCode(code, { clientId: CLIENT_ID, redirectUri: REDIRECT_URI });
      if (!set.refreshToken || set.idToken) throw new Error('model bench: full flow did not give AT + RT only');
    },
  },
};

/**
 * The peer's full flow, measured like its own ops (bench/peer/model.ts measure()): empty store,
 * warm-up of n/10, settle, n flows one after another. The steps are those of its modelLogin,
 * modelCodeMint and modelCodeExchange.
 */
async function measurePeerFlow(peer: PeerProvider, n: number, settle: () => Promise<void>): Promise<ModelMeasure> {
  const { provider, storage } = peer;
  const client = await benchClient(provider);
  const flow = async (accountId: string) => {
    const login = await createLogin(provider, client, accountId);
    const code = (await provider.AuthorizationCode.find(await newCode(provider, client, login).save())) as (AuthorizationCode & { consumed?: unknown }) | undefined;
    if (!code || code.consumed) throw new Error('peer full flow: code not found');
    const src = codeSource(code);
    if (!(await provider.Grant.find(src.grantId))) throw new Error('peer full flow: grant not found');
    await code.consume();
    await newAccessToken(provider, client, src, 'authorization_code').save();
    await newRefreshToken(provider, client, src).save();
  };
  await storage.reset();
  await timeLoop(nextAccounts(Math.ceil(n / 10)), flow);
  const inputs = nextAccounts(n);
  await settle();
  const redis = storage.kind === 'redis' ? storage.redis.stats : undefined;
  const rt0 = redis?.roundTrips ?? 0;
  const cpu0 = process.cpuUsage();
  const r = await timeLoop(inputs, flow);
  const cpu = process.cpuUsage(cpu0);
  return {
    ops_per_sec: Math.round(r.opsPerSec),
    cpu_us_per_op: round((cpu.user + cpu.system) / n, 2),
    n,
    ...(redis && { round_trips_per_op: round((redis.roundTrips - rt0) / n, 2) }),
  };
}

async function measureOurs(backend: OurBackend, id: ModelOpId, n: number): Promise<ModelMeasure> {
  const op = OUR_OPS[id];
  const m = newManager(await backend.fresh());
  const warm = await op.setup(m, Math.ceil(n / 10));
  await timeLoop(warm, (input) => op.run(m, input));
  const inputs = await op.setup(m, n);
  await settledHeap();
  const rt0 = backend.traffic?.roundTrips ?? 0;
  const cpu0 = process.cpuUsage();
  const r = await timeLoop(inputs, (input) => op.run(m, input));
  const cpu = process.cpuUsage(cpu0);
  const rts = backend.traffic ? (backend.traffic.roundTrips - rt0) / n : undefined;
  await op.verify?.(m, inputs);
  return {
    ops_per_sec: Math.round(r.opsPerSec),
    cpu_us_per_op: round((cpu.user + cpu.system) / n, 2),
    n,
    p50_us: round(r.p50Us, 1),
    p99_us: round(r.p99Us, 1),
    ...(rts !== undefined && { round_trips_per_op: round(rts, 2) }),
  };
}

// ---------------------------------------------------------------- side by side

export type ModelOpId = 'login' | 'login_browser' | 'code_mint' | 'code_exchange' | 'validate' | 'refresh_rotate' | 'revoke_grant_10' | 'revoke_grant_100' | 'full_flow';

export const MODEL_OPS: readonly { id: ModelOpId; label: string; scale: number; peer: keyof PeerModelBench | 'fullFlow' }[] = [
  { id: 'login', label: 'login (createSession: grant; peer: Session + Grant)', scale: 1, peer: 'login' },
  { id: 'login_browser', label: 'login + browser-session record, for information', scale: 1, peer: 'login' },
  { id: 'code_mint', label: 'code mint', scale: 1, peer: 'codeMint' },
  { id: 'code_exchange', label: 'code exchange → AT + RT', scale: 1, peer: 'codeExchange' },
  { id: 'validate', label: 'access token validation', scale: 1, peer: 'accessTokenFind' },
  { id: 'refresh_rotate', label: 'refresh with rotation → AT + RT', scale: 1, peer: 'refreshRotate' },
  { id: 'revoke_grant_10', label: 'revoke grant (10 tokens)', scale: 1, peer: 'revokeGrant10' },
  { id: 'revoke_grant_100', label: 'revoke grant (100 tokens)', scale: 0.1, peer: 'revokeGrant100' },
  { id: 'full_flow', label: 'full flow: login + code mint + code exchange → AT + RT', scale: 1, peer: 'fullFlow' },
];

export interface ModelPair {
  /** Each side's median: ops/s and CPU per op are medians over rounds, the rest from the median round. */
  ours: ModelMeasure;
  peer: ModelMeasure;
  /**
   * ours ÷ peer in ops/s: the median over rounds of the ratio within each round (the two sides
   * of a round run back to back, so a change in the machine's load hits both).
   */
  ratio: number;
  /** peer ÷ ours in CPU time per op, the same way (above 1: ours does the op with less CPU). */
  cpu_ratio: number;
  rounds: { ours: ModelMeasure[]; peer: ModelMeasure[] };
}

export interface ModelSection {
  backend: 'memory' | 'redis';
  n: number;
  rounds: number;
  ops: Record<ModelOpId, ModelPair>;
}

export interface ModelCompareOptions {
  backend: 'memory' | 'redis';
  ours: OurBackend;
  peer: PeerProvider;
  n: number;
  rounds: number;
  log: (line: string) => void;
}

function summarize(samples: readonly ModelMeasure[]): ModelMeasure {
  const m = samples[medianIndex(samples.map((x) => x.ops_per_sec))]!;
  return { ...m, ops_per_sec: Math.round(median(samples.map((x) => x.ops_per_sec))), cpu_us_per_op: round(median(samples.map((x) => x.cpu_us_per_op)), 2) };
}

/** The pair of one op over all rounds (rounds[i] of both sides ran back to back). */
export function pairOf(ours: ModelMeasure[], peer: ModelMeasure[]): ModelPair {
  return {
    ours: summarize(ours),
    peer: summarize(peer),
    ratio: round(median(ours.map((x, i) => x.ops_per_sec / peer[i]!.ops_per_sec)), 2),
    cpu_ratio: round(median(ours.map((x, i) => peer[i]!.cpu_us_per_op / x.cpu_us_per_op)), 2),
    rounds: { ours, peer },
  };
}

/** Every op, both systems, `rounds` times; the side going first alternates by round and op. */
export async function runModelCompare(o: ModelCompareOptions): Promise<ModelSection> {
  const peerBench = createPeerModelBench(o.peer);
  // The peer's timed loop starts right after settle() returns: its CPU time is read from here.
  let peerCpu0 = process.cpuUsage();
  const settle = async () => {
    await settledHeap();
    peerCpu0 = process.cpuUsage();
  };
  const samples = new Map<ModelOpId, { ours: ModelMeasure[]; peer: ModelMeasure[] }>();
  for (let r = 0; r < o.rounds; r++) {
    for (const [i, op] of MODEL_OPS.entries()) {
      const n = Math.max(10, Math.round(o.n * op.scale));
      const s = samples.get(op.id) ?? { ours: [], peer: [] };
      samples.set(op.id, s);
      const runOurs = async () => s.ours.push(await measureOurs(o.ours, op.id, n));
      const runPeer = async () => {
        if (op.peer === 'fullFlow') {
          s.peer.push(await measurePeerFlow(o.peer, n, settle));
          return;
        }
        const res = await (peerBench[op.peer] as ModelOp)({ n, settle });
        const cpu = process.cpuUsage(peerCpu0);
        s.peer.push({
          ops_per_sec: res.ops_per_sec,
          cpu_us_per_op: round((cpu.user + cpu.system) / n, 2),
          n,
          ...(res.round_trips_per_op !== undefined && { round_trips_per_op: res.round_trips_per_op }),
        });
      };
      const oursFirst = (r + i) % 2 === 1;
      if (oursFirst) {
        await runOurs();
        await runPeer();
      } else {
        await runPeer();
        await runOurs();
      }
      const [a, b] = [s.ours.at(-1)!, s.peer.at(-1)!];
      o.log(`  model ${o.backend} round ${r + 1}/${o.rounds} ${op.id}: ours ${a.ops_per_sec} ops/s (${a.cpu_us_per_op} µs CPU), peer ${b.ops_per_sec} ops/s (${b.cpu_us_per_op} µs CPU)`);
    }
  }
  const ops = {} as ModelSection['ops'];
  for (const op of MODEL_OPS) {
    const s = samples.get(op.id)!;
    ops[op.id] = pairOf(s.ours, s.peer);
  }
  return { backend: o.backend, n: o.n, rounds: o.rounds, ops };
}

// ---------------------------------------------------------------- memory per 10k

export interface MemoryMeasure {
  /** memory: Node heapUsed; Redis: used_memory. Scaled to 10k sets. */
  mb_per_10k: number;
  bytes_per_set: number;
  keys_per_set?: number;
  sets: number;
  sample_findable: string;
}

/**
 * Memory of `count` full sets, scaled to 10k: what a login plus a code exchange leave behind
 * (grant, used code, AT, RT; the peer: Session, Grant, consumed code, AT, RT). The 1000 users'
 * browser-session records are made during the warm-up, as their browsers log in once.
 * 1000 sets are stored first and kept; then full GC, baseline, `count` sets, full GC, reading —
 * the peer's method (bench/peer/model.ts modelMemoryPer10k).
 */
export async function ourMemoryPer10k(backend: OurBackend, count = 10_000, warmup = 1000): Promise<MemoryMeasure> {
  const m = newManager(await backend.fresh());
  const concurrency = backend.name === 'redis' ? SETUP_CONCURRENCY : 1;
  const b = browsersOf(m);
  const unit = async (userId: string) => {
    const login = await b.of(userId);
    const sessionId = await consent(m, login);
    const code = await issueCode(m, sessionId, login);
    return (await m.redeemCode(code, { clientId: CLIENT_ID, redirectUri: REDIRECT_URI })).accessToken.value;
  };
  const warm = nextAccounts(warmup);
  await parallel(warmup, (i) => unit(warm[i]!), concurrency);
  const accounts = nextAccounts(count);
  const sample: string[] = [];
  const reading = async () => {
    const heap = (await settledHeap()).heapUsed;
    return { heap, redis: await backend.redisMemory?.() };
  };
  const before = await reading();
  await parallel(
    count,
    async (i) => {
      const at = await unit(accounts[i]!);
      if (i % 100 === 0) sample.push(at);
    },
    concurrency,
  );
  const after = await reading();
  let found = 0;
  for (const v of sample) if ((await m.validateToken(v, { tokenClass: 'access_token' })).token) found++;
  const bytes = after.redis && before.redis ? after.redis.usedMemory - before.redis.usedMemory : after.heap - before.heap;
  return {
    mb_per_10k: round(((bytes / count) * 10_000) / 2 ** 20, 2),
    bytes_per_set: Math.round(bytes / count),
    ...(after.redis && before.redis && { keys_per_set: round((after.redis.keys - before.redis.keys) / count, 2) }),
    sets: count,
    sample_findable: `${found}/${sample.length}`,
  };
}

export function peerMemoryMeasure(r: PeerMemoryResult): MemoryMeasure {
  return {
    mb_per_10k: r.mb_per_10k,
    bytes_per_set: r.bytes_per_unit,
    ...(r.keys_per_unit !== undefined && { keys_per_set: r.keys_per_unit }),
    sets: r.count,
    sample_findable: r.sample_findable,
  };
}
