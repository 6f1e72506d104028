// Model-level benchmark of the peer: oidc-provider's own models and the storage adapter, called
// directly, no HTTP. Each op function:
//   1. empties the store (memory: cleared; Redis: FLUSHDB), so state left by earlier ops does not
//      leak into its figures;
//   2. builds its inputs untimed, runs a warm-up (default n/10) on separate inputs;
//   3. times n iterations as a whole: ops_per_sec = n / wall time of the timed loop.
// With concurrency 1 (default) each op is awaited before the next starts, so on Redis this is
// latency-bound; a higher concurrency keeps that many ops in flight.
// Every op checks its own outcome and throws on a miss: a benchmark that silently measures
// failures is worse than none.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

import type { AccessToken, AuthorizationCode, Client, RefreshToken } from 'oidc-provider';
import type Provider from 'oidc-provider';

import {
  benchClient,
  codeSource,
  createLogin,
  loginSource,
  newAccessToken,
  newCode,
  newRefreshToken,
  parallel,
  rotatedRefreshToken,
  type Login,
} from './fixtures.js';
import { timeLoop } from '../lib/timing.js';
import { accountFor } from './constants.js';
import type { PeerProvider } from './provider.js';

export interface ModelOpts {
  /** Timed iterations. */
  n: number;
  /** Ops in flight (default 1 = sequential awaits). */
  concurrency?: number;
  /** Untimed warm-up iterations (default ceil(n / 10)). */
  warmup?: number;
  /**
   * Runs between the untimed setup and the timed loop (bench/run.ts passes a full GC here, as
   * it does for our side, so neither system's loop pays for the garbage of its setup).
   */
  settle?: () => Promise<void>;
}

export interface ModelResult {
  ops_per_sec: number;
  n: number;
  concurrency: number;
  /** Redis adapter only: network round trips per op (see CountingRedis). */
  round_trips_per_op?: number;
  /** Redis adapter only: commands sent per op. */
  commands_per_op?: number;
}

// Setup (untimed) runs with this many ops in flight, so Redis-backed setup stays quick.
const SETUP_CONCURRENCY = 64;
let accountSeq = 0;
const nextAccounts = (n: number) => Array.from({ length: n }, () => accountFor(accountSeq++));

interface Ctx {
  provider: Provider;
  client: Client;
}

async function measure<T>(
  peer: PeerProvider,
  opts: ModelOpts,
  setup: (ctx: Ctx, count: number) => Promise<T[]>,
  op: (ctx: Ctx, input: T) => Promise<void>,
): Promise<ModelResult> {
  const { n } = opts;
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const warmup = opts.warmup ?? Math.ceil(n / 10);
  const ctx: Ctx = { provider: peer.provider, client: await benchClient(peer.provider) };

  // The loop of our side (bench/lib/timing.ts, as the peer's own bench/model.js: each op timed
  // with hrtime): both systems pay the same per-op timing (about 0.2 µs of CPU per op here; a
  // bare loop on the peer side only gave it a head start of a fifth of one of our validations).
  const loop = (inputs: T[]) => timeLoop(inputs, (input) => op(ctx, input), concurrency);

  await peer.storage.reset();
  if (warmup > 0) await loop(await setup(ctx, warmup));
  const inputs = await setup(ctx, n);
  await opts.settle?.();

  const redis = peer.storage.kind === 'redis' ? peer.storage.redis.stats : undefined;
  const rt0 = redis?.roundTrips ?? 0;
  const cmd0 = redis?.commands ?? 0;
  const timed = await loop(inputs);

  const result: ModelResult = { ops_per_sec: Math.round(timed.opsPerSec), n, concurrency };
  if (redis) {
    result.round_trips_per_op = round2((redis.roundTrips - rt0) / n);
    result.commands_per_op = round2((redis.commands - cmd0) / n);
  }
  return result;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`peer model bench: ${what} not found`);
  return value;
}

// ---- untimed input builders -------------------------------------------------------------------

const logins = ({ provider, client }: Ctx, count: number): Promise<Login[]> => {
  const accounts = nextAccounts(count);
  return parallel(count, (i) => createLogin(provider, client, accounts[i]!), SETUP_CONCURRENCY);
};

/** Logins, each with a code saved; returns the code values. */
async function codeValues(ctx: Ctx, count: number): Promise<string[]> {
  const ls = await logins(ctx, count);
  return parallel(count, (i) => newCode(ctx.provider, ctx.client, ls[i]!).save(), SETUP_CONCURRENCY);
}

/** Logins, each with the tokens of a code exchange saved; returns the token values. */
async function tokenValues(ctx: Ctx, count: number, kind: 'access' | 'refresh'): Promise<string[]> {
  const ls = await logins(ctx, count);
  return parallel(
    count,
    (i) => {
      const src = loginSource(ls[i]!);
      const token = kind === 'access'
        ? newAccessToken(ctx.provider, ctx.client, src, 'authorization_code')
        : newRefreshToken(ctx.provider, ctx.client, src);
      return token.save();
    },
    SETUP_CONCURRENCY,
  );
}

// ---- ops ------------------------------------------------------------------------------------

/** Login: Session + Grant created and saved (the product's "create a session for (user, client)"). */
export function modelLogin(peer: PeerProvider, opts: ModelOpts): Promise<ModelResult> {
  return measure(peer, opts, async (_ctx, count) => nextAccounts(count), async ({ provider, client }, accountId) => {
    await createLogin(provider, client, accountId);
  });
}

/** Code mint: AuthorizationCode created and saved for an existing login. */
export function modelCodeMint(peer: PeerProvider, opts: ModelOpts): Promise<ModelResult> {
  return measure(peer, opts, logins, async ({ provider, client }, login) => {
    await newCode(provider, client, login).save();
  });
}

/**
 * Code exchange, storage part of POST /token: find the code, load its grant (the provider's
 * validateGrant), consume the code, create + save AccessToken and RefreshToken. Not included:
 * client authentication, account lookup, ID token signing, HTTP.
 */
export function modelCodeExchange(peer: PeerProvider, opts: ModelOpts): Promise<ModelResult> {
  return measure(peer, opts, codeValues, async ({ provider, client }, value) => {
    const code = must(await provider.AuthorizationCode.find(value), 'code') as AuthorizationCode & { consumed?: unknown };
    if (code.consumed) throw new Error('peer model bench: code already consumed');
    const src = codeSource(code);
    must(await provider.Grant.find(src.grantId), 'grant');
    await code.consume();
    await newAccessToken(provider, client, src, 'authorization_code').save();
    await newRefreshToken(provider, client, src).save();
  });
}

/** Access token validation: AccessToken.find(value) (adapter find + payload checks + instance). */
export function modelAccessTokenFind(peer: PeerProvider, opts: ModelOpts): Promise<ModelResult> {
  return measure(peer, opts, (ctx, count) => tokenValues(ctx, count, 'access'), async ({ provider }, value) => {
    const at: AccessToken = must(await provider.AccessToken.find(value), 'access token');
    if (!at.isValid) throw new Error('peer model bench: access token not valid');
  });
}

/**
 * Refresh with rotation, storage part of POST /token grant_type=refresh_token: find the RT, load
 * its grant, consume the RT, create + save its successor and a new AccessToken.
 */
export function modelRefreshRotate(peer: PeerProvider, opts: ModelOpts): Promise<ModelResult> {
  return measure(peer, opts, (ctx, count) => tokenValues(ctx, count, 'refresh'), async ({ provider, client }, value) => {
    const rt: RefreshToken = must(await provider.RefreshToken.find(value, { ignoreExpiration: true }), 'refresh token');
    if (rt.consumed) throw new Error('peer model bench: refresh token already consumed');
    must(await provider.Grant.find(rt.grantId!), 'grant');
    await rt.consume();
    const next = rotatedRefreshToken(provider, client, rt);
    await next.save();
    const src = { accountId: next.accountId, grantId: next.grantId!, sessionUid: next.sessionUid, sid: next.sid };
    await newAccessToken(provider, client, src, next.gty!).save();
  });
}

/**
 * Revoke a grant holding `tokens` access tokens, with the calls lib/helpers/revoke.js makes for
 * this client: revokeByGrantId on AccessToken, RefreshToken and AuthorizationCode plus
 * Grant.adapter.destroy, all in parallel. n = grants revoked. Afterwards a sample token and
 * grant must be gone.
 */
export async function modelRevokeGrant(peer: PeerProvider, opts: ModelOpts & { tokens: number }): Promise<ModelResult> {
  let sample: { grantId: string; token: string } | undefined;
  const result = await measure(
    peer,
    opts,
    async (ctx, count) => {
      const ls = await logins(ctx, count);
      const tokens = await parallel(
        count * opts.tokens,
        (j) => newAccessToken(ctx.provider, ctx.client, loginSource(ls[Math.floor(j / opts.tokens)]!), 'authorization_code').save(),
        SETUP_CONCURRENCY,
      );
      sample = { grantId: ls[0]!.grantId, token: tokens[0]! };
      return ls.map((l) => l.grantId);
    },
    async ({ provider }, grantId) => {
      await Promise.all([
        provider.AccessToken.revokeByGrantId(grantId),
        provider.RefreshToken.revokeByGrantId(grantId),
        provider.AuthorizationCode.revokeByGrantId(grantId),
        provider.Grant.adapter.destroy(grantId),
      ]);
    },
  );
  const { provider } = peer;
  if (!sample || (await provider.AccessToken.find(sample.token)) || (await provider.Grant.find(sample.grantId))) {
    throw new Error(`peer model bench: revoked grant (${opts.tokens} tokens) still has data`);
  }
  return result;
}

export const modelRevokeGrant10 = (peer: PeerProvider, opts: ModelOpts) => modelRevokeGrant(peer, { ...opts, tokens: 10 });
export const modelRevokeGrant100 = (peer: PeerProvider, opts: ModelOpts) => modelRevokeGrant(peer, { ...opts, tokens: 100 });

// ---- memory per 10k ---------------------------------------------------------------------------

export interface MemoryOpts {
  /** Units measured (default 10,000); the result is scaled to 10k. */
  count?: number;
  /** Units stored before the baseline and kept (default 1000). */
  warmup?: number;
}

export interface MemoryResult {
  adapter: 'memory' | 'redis';
  count: number;
  /** memory: Node heapUsed delta; redis: INFO used_memory delta. Scaled to 10k units. */
  mb_per_10k: number;
  bytes_per_unit: number;
  /** memory only: RSS delta scaled to 10k (noisy: the heap grows in steps). */
  rss_mb_per_10k?: number;
  /** redis only: keys per unit. */
  keys_per_unit?: number;
  /** How the full GC before each reading was forced; see forceGc(). */
  gc: 'global.gc' | 'v8-flag' | 'none';
  /** Of a 1% sample of the units' access tokens, how many could be found afterwards. */
  sample_findable: string;
}

type GcMode = MemoryResult['gc'];
let gcFn: (() => void) | undefined;
let gcMode: GcMode = 'none';

/**
 * Full GC. Uses global.gc when node runs with --expose-gc (preferred: `node --expose-gc
 * --import tsx ...`); otherwise turns the flag on at run time and takes gc() from a fresh
 * context, which V8 allows; the result records which one was used.
 */
function forceGc(): GcMode {
  if (!gcFn) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') {
      gcFn = g;
      gcMode = 'global.gc';
    } else {
      try {
        setFlagsFromString('--expose-gc');
        gcFn = runInNewContext('gc') as () => void;
        gcMode = 'v8-flag';
      } catch {
        gcFn = () => {};
        gcMode = 'none';
      }
    }
  }
  for (let i = 0; i < 4; i += 1) gcFn();
  return gcMode;
}

/**
 * Memory of `count` grant trees, scaled to 10k. A grant tree is the state after a login plus a
 * code exchange: Session, Grant, consumed AuthorizationCode, AccessToken, RefreshToken. `warmup`
 * trees are stored first and kept; then full GC, baseline, `count` more trees, full GC, reading.
 * Only a 1% sample of token values is kept by the harness so that its own references barely
 * count. The store is emptied first.
 */
export async function modelMemoryPer10k(peer: PeerProvider, opts: MemoryOpts = {}): Promise<MemoryResult> {
  const count = opts.count ?? 10_000;
  const warmup = opts.warmup ?? 1000;
  const { provider, storage } = peer;
  const client = await benchClient(provider);
  // Redis work is latency-bound, so it gets ops in flight; in memory it makes no difference.
  const concurrency = storage.kind === 'redis' ? SETUP_CONCURRENCY : 1;

  const unit = async (accountId: string): Promise<string> => {
    const login = await createLogin(provider, client, accountId);
    const code = must(await provider.AuthorizationCode.find(await newCode(provider, client, login).save()), 'code');
    await code.consume();
    const src = codeSource(code);
    const at = await newAccessToken(provider, client, src, 'authorization_code').save();
    await newRefreshToken(provider, client, src).save();
    return at;
  };
  const reading = async () => {
    const mode = forceGc();
    await new Promise((r) => setTimeout(r, 50));
    forceGc();
    const mem = process.memoryUsage();
    const redis = storage.kind === 'redis' ? await storage.memory() : undefined;
    return { mode, heap: mem.heapUsed, rss: mem.rss, redis };
  };

  await storage.reset();
  const warmAccounts = nextAccounts(warmup);
  await parallel(warmup, (i) => unit(warmAccounts[i]!).then(() => undefined), concurrency);
  const accounts = nextAccounts(count);
  const sample: string[] = [];
  const before = await reading();
  await parallel(count, async (i) => {
    const at = await unit(accounts[i]!);
    if (i % 100 === 0) sample.push(at);
  }, concurrency);
  const after = await reading();

  let found = 0;
  for (const value of sample) if (await provider.AccessToken.find(value)) found += 1;

  const scale = (bytes: number) => Math.round(((bytes / count) * 10_000) / 2 ** 20 * 100) / 100;
  const result: MemoryResult = {
    adapter: storage.kind,
    count,
    mb_per_10k: 0,
    bytes_per_unit: 0,
    gc: after.mode,
    sample_findable: `${found}/${sample.length}`,
  };
  if (after.redis && before.redis) {
    const bytes = after.redis.usedMemory - before.redis.usedMemory;
    result.mb_per_10k = scale(bytes);
    result.bytes_per_unit = Math.round(bytes / count);
    result.keys_per_unit = round2((after.redis.keys - before.redis.keys) / count);
  } else {
    result.mb_per_10k = scale(after.heap - before.heap);
    result.bytes_per_unit = Math.round((after.heap - before.heap) / count);
    result.rss_mb_per_10k = scale(after.rss - before.rss);
  }
  return result;
}

// ---- bound form -------------------------------------------------------------------------------

export type ModelOp = (opts: ModelOpts) => Promise<ModelResult>;

export interface PeerModelBench {
  login: ModelOp;
  codeMint: ModelOp;
  codeExchange: ModelOp;
  accessTokenFind: ModelOp;
  refreshRotate: ModelOp;
  revokeGrant10: ModelOp;
  revokeGrant100: ModelOp;
  memoryPer10k: (opts?: MemoryOpts) => Promise<MemoryResult>;
}

/** The op functions bound to one peer provider (and so to its adapter). */
export function createPeerModelBench(peer: PeerProvider): PeerModelBench {
  return {
    login: (o) => modelLogin(peer, o),
    codeMint: (o) => modelCodeMint(peer, o),
    codeExchange: (o) => modelCodeExchange(peer, o),
    accessTokenFind: (o) => modelAccessTokenFind(peer, o),
    refreshRotate: (o) => modelRefreshRotate(peer, o),
    revokeGrant10: (o) => modelRevokeGrant10(peer, o),
    revokeGrant100: (o) => modelRevokeGrant100(peer, o),
    memoryPer10k: (o) => modelMemoryPer10k(peer, o),
  };
}
