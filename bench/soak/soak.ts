/**
 * The soak (issue 7 items 4 and 5): two example-provider processes (`examples/provider/server.ts`,
 * as `npm start` runs it) forked with the same secrets (one shared keys file), the same clients
 * and users, and `REDIS_URL` pointing at one private redis-server; a round-robin balancer in
 * front of them is the single issuer. Workers run mixed flows through openid-client and a
 * cookie-jar browser (see flows.ts) until the time or the request budget is spent. Then:
 *
 * - the audit: a SessionManager with the same secrets on the same Redis dumps the whole tree;
 *   `auditDump` checks its records and `auditRedisKeys` every key under the tree's prefix;
 * - the ledger: the store holds exactly what the workers saw (defined in {@link matchLedger});
 * - at rest: every Redis key and value, and the dump, are searched for every token value the
 *   workers received, every PKCE verifier, password and secret (expected: none).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import { createClient } from 'redis';
import { SessionManager } from '../../src/manager/session-manager.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { TreeDump } from '../../src/store/store.js';
import { generateKeys, type ProviderKeys } from '../../examples/provider/keys.js';
import { freePort, startRedis } from '../../test/helpers/redis-server.js';
import { atRestFindings, auditDump, auditRedisKeys, jtiOf, redisTexts, spellings, storedHashOf, type DumpCounts, type RedisKeyCounts } from '../../test/reliability/audit.js';
import { Balancer, type BalancerStats } from './balancer.js';
import { Worker, type ClientName } from './flows.js';
import { Ledger, type ValueKind } from './ledger.js';

export interface SoakOptions {
  /** Length of the load phase. */
  readonly minutes: number;
  /** The load phase also ends after this many HTTP requests. */
  readonly maxRequests: number;
  readonly workers: number;
  readonly log?: (line: string) => void;
}

/** How the store compares with what the workers saw (see {@link matchLedger}). */
export interface LedgerMatch {
  /** Distinct values the workers received. */
  readonly received: number;
  readonly receivedByKind: Record<ValueKind, number>;
  /** Records (tokens and reuse markers) in the store. */
  readonly records: number;
  /** Received values whose record is in the store. */
  readonly present: number;
  /** Received values past their expiry whose record is gone (allowed: TTLs and pruning remove them). */
  readonly expiredGone: number;
  /** Received values not expired whose record is gone (must be 0). */
  readonly missing: number;
  /** Records in the store no worker received (must be 0, or at most the answers the balancer lost). */
  readonly unseen: number;
  /** Grants in the store. */
  readonly grants: number;
  /** Distinct grants behind the values the workers received that are present. */
  readonly grantsSeen: number;
  /** Grants in the store holding no record any worker received (must be 0, or at most the lost answers). */
  readonly grantsUnseen: number;
}

export interface SoakReport {
  readonly options: { minutes: number; maxRequests: number; workers: number };
  readonly loadMs: number;
  readonly endedBy: 'time' | 'requests';
  readonly http: Omit<BalancerStats, 'latencies' | 'byStatus' | 'byRoute'> & { byStatus: Record<string, number>; byRoute: Record<string, number>; p50Ms: number; p99Ms: number };
  readonly flows: Record<string, { ok: number; failed: number }>;
  readonly checks: number;
  readonly consents: number;
  readonly backchannelLogoutTokens: number;
  readonly faultsInjected: number;
  readonly audit: { readonly counts: DumpCounts; readonly keys: RedisKeyCounts };
  readonly ledger: LedgerMatch;
  readonly atRest: { readonly needles: number; readonly redisTexts: number; readonly findings: number };
  readonly providerErrors: string[];
  /** Everything that must not be: audit, ledger, at-rest findings, failed expectations, 5xx, crashes. */
  readonly violations: string[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TREE_PREFIX = 'op:tree:';
const USERS_PER_WORKER = 12;
const REQUEST_BOUND_MS = 15_000;

/**
 * The store against the ledger, at time `now`. With R the stored hashes of every value a worker
 * received (opaque: SHA-256 of the value; JWT: of its `jti` reference) and D those of every
 * token record and reuse marker in the dump:
 * - missing = |R \ D| among values not yet expired: a record a worker holds a value of vanished early;
 * - expiredGone = |R \ D| among values past their expiry: legitimately removed (TTL, pruning);
 * - unseen = |D \ R|: a record minted for an answer no worker got;
 * - grants: every grant in the dump holds a record in R ∩ D (grantsUnseen = 0), so the grants in
 *   the store are exactly the grants behind the values the workers saw (grants = grantsSeen).
 */
export function matchLedger(d: TreeDump, received: Ledger['received'], now: number): LedgerMatch {
  const grantOf = new Map<string, string>();
  for (const t of d.tokens) grantOf.set(t.hash, JSON.stringify([t.userId, t.clientId, t.grantId]));
  for (const m of d.markers) grantOf.set(m.hash, JSON.stringify([m.userId, m.clientId, m.grantId]));
  const byHash = new Map<string, (typeof received)[number]>();
  const receivedByKind: Record<ValueKind, number> = { authorization_code: 0, access_token: 0, refresh_token: 0, id_token: 0 };
  for (const r of received) {
    const h = storedHashOf(r.value);
    if (h === undefined || byHash.has(h)) continue;
    byHash.set(h, r);
    receivedByKind[r.kind]++;
  }
  let present = 0;
  let expiredGone = 0;
  let missing = 0;
  const grantsSeen = new Set<string>();
  for (const [h, r] of byHash) {
    const g = grantOf.get(h);
    if (g !== undefined) {
      present++;
      grantsSeen.add(g);
    } else if (r.expiresAt <= now + 2000) expiredGone++;
    else missing++;
  }
  let unseen = 0;
  for (const h of grantOf.keys()) if (!byHash.has(h)) unseen++;
  const grants = new Set(d.grants.map((g) => JSON.stringify([g.userId, g.clientId, g.id])));
  let grantsUnseen = 0;
  for (const g of grants) if (!grantsSeen.has(g)) grantsUnseen++;
  return { received: byHash.size, receivedByKind, records: grantOf.size, present, expiredGone, missing, unseen, grants: grants.size, grantsSeen: grantsSeen.size, grantsUnseen };
}

interface Provider {
  readonly child: ChildProcess;
  readonly output: () => string;
}

/** Forks `examples/provider/server.ts` (what `npm start` runs) and waits until it listens. */
async function startProvider(env: Record<string, string>): Promise<Provider> {
  const child = fork(join(ROOT, 'examples/provider/server.ts'), [], { cwd: ROOT, execArgv: ['--import', 'tsx'], env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  const collect = (d: Buffer) => {
    out += d.toString();
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`provider did not start: ${out.slice(-500)}`)), 60_000);
    const check = () => {
      if (out.includes(' · users: ')) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited with ${code}: ${out.slice(-500)}`));
    });
  });
  return { child, output: () => out };
}

async function stopProvider(p: Provider): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  const exited = new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Every spelling of every secret, password, verifier and received value, named by what it is. */
function atRestNeedles(keys: ProviderKeys, passwords: readonly string[], ledger: Ledger): Map<string, string> {
  const needles = new Map<string, string>();
  const add = (what: string, v: string | Uint8Array) => {
    for (const s of spellings(v)) needles.set(s, what);
  };
  for (const k of keys.sessionIdKeys) add('session-id key', Buffer.from(k.key, 'base64url'));
  add('subject salt', Buffer.from(keys.subjectSalt, 'base64url'));
  for (const c of keys.cookieSecrets) add('cookie secret', c);
  add('signing key', Buffer.from(keys.signingKey.d!, 'base64url'));
  for (const p of passwords) add('user password', p);
  for (const v of ledger.verifiers) add('PKCE verifier', v);
  for (const r of ledger.received) {
    if (r.kind === 'id_token') {
      // A JWT's handle is its jti reference; the whole JWT would show its signature.
      const jti = jtiOf(r.value);
      if (jti !== undefined) add('JWT reference', jti);
      add('ID token', r.value.split('.')[2]!);
    } else add(`${r.kind.replace('_', ' ')} value`, r.value);
  }
  return needles;
}

export async function soak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const violations: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'oidc-soak-'));
  // A private server even when REDIS_URL is set (extra arguments), and never evicting: the audit reads every key.
  const redis = await startRedis(['--maxmemory-policy', 'noeviction']);
  const cleanups: Array<() => Promise<unknown>> = [async () => redis.stop(), async () => rmSync(dir, { recursive: true, force: true })];
  try {
    // The relying party's side: callbacks are never fetched (the browser stops at them); it receives back-channel logout tokens.
    let backchannel = 0;
    const rp = createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/backchannel-logout') backchannel++;
      req.resume();
      req.on('end', () => res.writeHead(req.method === 'POST' ? 200 : 404).end());
    });
    await new Promise<void>((r) => rp.listen(0, '127.0.0.1', r));
    cleanups.unshift(() => new Promise((r) => rp.close(r)));
    const rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
    const redirectUri = `${rpOrigin}/callback`;
    const postLogoutRedirectUri = `${rpOrigin}/`;

    // Shared configuration: one keys file (the same secrets in both processes), clients, users.
    const keys = await generateKeys();
    const keysFile = join(dir, 'keys.json');
    writeFileSync(keysFile, JSON.stringify(keys), { mode: 0o600 });
    const secrets = { app: 'soak-app-secret-0123456789abcdef', post: 'soak-post-secret-0123456789abcdef' };
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(
      clientsFile,
      JSON.stringify([
        {
          client_id: 'soak-app',
          client_secret: secrets.app,
          redirect_uris: [redirectUri],
          post_logout_redirect_uris: [postLogoutRedirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          backchannel_logout_uri: `${rpOrigin}/backchannel-logout`,
          backchannel_logout_session_required: true,
        },
        { client_id: 'soak-spa', token_endpoint_auth_method: 'none', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], subject_type: 'pairwise' },
        { client_id: 'soak-post', client_secret: secrets.post, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [redirectUri] },
      ]),
    );
    const users = Array.from({ length: o.workers * USERS_PER_WORKER }, (_, i) => ({ username: `soak-${i}`, password: `pw-${i}-${keys.subjectSalt.slice(0, 6)}`, claims: { name: `Soak User ${i}`, email: `soak${i}@example.net` } }));
    const usersFile = join(dir, 'users.json');
    writeFileSync(usersFile, JSON.stringify(users));

    // Two provider processes behind one issuer (the balancer).
    const ports = [await freePort(), await freePort()];
    const balancer = new Balancer(ports.map((p) => `http://127.0.0.1:${p}`), REQUEST_BOUND_MS);
    const issuer = await balancer.listen();
    cleanups.unshift(() => balancer.close());
    const env = (port: number) => ({ PORT: String(port), HOST: '127.0.0.1', ISSUER: issuer, REDIS_URL: redis.url, KEYS_FILE: keysFile, OIDC_CLIENTS_FILE: clientsFile, OIDC_USERS_FILE: usersFile });
    const providers = await Promise.all(ports.map((p) => startProvider(env(p))));
    cleanups.unshift(async () => Promise.all(providers.map(stopProvider)));
    log(`soak: 2 provider processes (pids ${providers.map((p) => p.child.pid).join(', ')}) on one Redis (${new URL(redis.url).host}), issuer ${issuer}; ${o.workers} workers for ${o.minutes} min or ${o.maxRequests} requests`);

    const insecure = { execute: [oidc.allowInsecureRequests] };
    const clients: Record<ClientName, oidc.Configuration> = {
      app: await oidc.discovery(new URL(issuer), 'soak-app', undefined, oidc.ClientSecretBasic(secrets.app), insecure),
      spa: await oidc.discovery(new URL(issuer), 'soak-spa', undefined, oidc.None(), insecure),
      post: await oidc.discovery(new URL(issuer), 'soak-post', undefined, oidc.ClientSecretPost(secrets.post), insecure),
    };
    for (const c of Object.values(clients)) c.timeout = REQUEST_BOUND_MS / 1000 + 5;

    // Load: bounded by time and by request count.
    const ledger = new Ledger();
    const started = Date.now();
    const deadline = started + o.minutes * 60_000;
    let endedBy: 'time' | 'requests' = 'time';
    const stopping = () => {
      if (balancer.stats.requests >= o.maxRequests) endedBy = 'requests';
      return Date.now() >= deadline || balancer.stats.requests >= o.maxRequests;
    };
    const progress = setInterval(() => log(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${balancer.stats.requests} requests, ${ledger.received.length} values received, ${ledger.violations.length} violations`), 15_000);
    const workers = Array.from({ length: o.workers }, (_, w) => new Worker({ clients, issuer, redirectUri, postLogoutRedirectUri, ledger, stopping }, users.slice(w * USERS_PER_WORKER, (w + 1) * USERS_PER_WORKER), 1 + w * 7919));
    await Promise.all(workers.map((w) => w.run()));
    clearInterval(progress);
    const loadMs = Date.now() - started;

    // The audit, with a manager of our own on the same Redis and the same secrets.
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    cleanups.unshift(() => client.close().catch(() => {}));
    const manager = new SessionManager({ store: new RedisStore({ client, prefix: TREE_PREFIX }), secrets: { sessionIdKeys: keys.sessionIdKeys, subjectSalt: keys.subjectSalt }, logger: { warn: () => {} } });
    const now = Date.now();
    const dump = await manager.dump();
    const tree = auditDump(dump, now, { singleRedemption: true, singleRefreshPerFamily: true });
    const keyAudit = await auditRedisKeys(client, TREE_PREFIX, now);
    for (const v of [...tree.violations, ...keyAudit.violations]) violations.push(`audit: ${v.kind}: ${v.detail}`);

    const match = matchLedger(dump, ledger.received, now);
    const lost = balancer.stats.lost + balancer.stats.timeouts;
    if (match.missing > 0) violations.push(`ledger: ${match.missing} values the workers hold (not expired) have no record in the store`);
    if (match.unseen > lost) violations.push(`ledger: ${match.unseen} records in the store no worker received (${lost} answers lost)`);
    if (match.grantsUnseen > lost) violations.push(`ledger: ${match.grantsUnseen} grants hold nothing any worker received`);

    // At rest: the whole keyspace (tree and browser sessions) and the dump.
    const needles = atRestNeedles(keys, users.map((u) => u.password), ledger);
    const texts = await redisTexts(client);
    texts.push(JSON.stringify(dump));
    const atRest = atRestFindings(texts, needles);
    for (const f of atRest) violations.push(`at rest: ${f.detail}`);

    // The providers: alive until we stop them, and nothing logged as an unexpected error.
    const providerErrors: string[] = [];
    for (const [i, p] of providers.entries()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) violations.push(`provider ${i} died during the soak (${p.child.exitCode ?? p.child.signalCode})`);
      for (const line of p.output().split('\n')) if (/\[op\] error|Error:/.test(line)) providerErrors.push(`provider ${i}: ${line.slice(0, 200)}`);
    }
    for (const e of providerErrors) violations.push(e);
    const http = balancer.stats;
    for (const [status, n] of http.byStatus) if (status >= 500) violations.push(`http: ${n} answers with status ${status}`);
    if (http.timeouts > 0) violations.push(`http: ${http.timeouts} requests exceeded ${REQUEST_BOUND_MS} ms`);
    if (http.byBackend.some((n) => n === 0)) violations.push('http: a provider process served no request');
    for (const v of ledger.violations) violations.push(`flow: ${v}`);

    const lat = [...http.latencies].sort((a, b) => a - b);
    return {
      options: { minutes: o.minutes, maxRequests: o.maxRequests, workers: o.workers },
      loadMs,
      endedBy,
      http: {
        requests: http.requests,
        byBackend: http.byBackend,
        byStatus: Object.fromEntries([...http.byStatus].sort((a, b) => a[0] - b[0])),
        byRoute: Object.fromEntries([...http.byRoute].sort((a, b) => b[1] - a[1])),
        lost: http.lost,
        timeouts: http.timeouts,
        maxLatencyMs: Math.round(http.maxLatencyMs),
        p50Ms: Math.round(percentile(lat, 0.5) * 10) / 10,
        p99Ms: Math.round(percentile(lat, 0.99) * 10) / 10,
      },
      flows: Object.fromEntries(ledger.flows),
      checks: ledger.checks,
      consents: ledger.consents,
      backchannelLogoutTokens: backchannel,
      faultsInjected: 0,
      audit: { counts: tree.counts, keys: keyAudit.counts },
      ledger: match,
      atRest: { needles: needles.size, redisTexts: texts.length, findings: atRest.length },
      providerErrors,
      violations,
    };
  } finally {
    // Some cleanups wait for processes that do not hold the event loop (the redis-server child is
    // unref'd): hold it until every cleanup is done, or Node would exit halfway, silently.
    const hold = setInterval(() => {}, 1000);
    for (const c of cleanups) await c().catch(() => {});
    clearInterval(hold);
  }
}
