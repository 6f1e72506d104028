// Quick end-to-end check of the peer harness, memory and Redis, in well under a minute:
//   npx tsx bench/peer/selfcheck.ts
//   node --expose-gc --import tsx bench/peer/selfcheck.ts   (memory readings use global.gc)
// Starts a private redis-server on a free 127.0.0.1 port (no persistence) and stops it at the
// end. Prints one JSON summary on stdout (progress on stderr) and exits non-zero if any check
// failed. The figures are short runs, good for spotting breakage, not for publishing.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } from './constants.js';
import { createPeerHttpDriver, startPeerServer, type PeerServer, type PhaseResult } from './http.js';
import { createPeerModelBench } from './model.js';
import { createPeerProvider } from './provider.js';
import { startPrivateRedis } from './redis-server.js';

const started = Date.now();
const log = (msg: string) => process.stderr.write(`[selfcheck ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}\n`);
const require = createRequire(import.meta.url);
const version = (pkg: string) => (require(`${pkg}/package.json`) as { version: string }).version;

type Adapter = 'memory' | 'redis';
const problems: string[] = [];
const expect = (ok: boolean, what: string) => {
  if (!ok) problems.push(what);
  return ok;
};

/** Model-level ops, short runs. */
async function modelSection(adapter: Adapter, redisUrl: string) {
  const peer = await createPeerProvider({ adapter, redisUrl });
  try {
    const bench = createPeerModelBench(peer);
    const n = adapter === 'memory' ? 3000 : 500;
    const ops = {
      login: await bench.login({ n }),
      code_mint: await bench.codeMint({ n }),
      code_exchange: await bench.codeExchange({ n }),
      access_token_find: await bench.accessTokenFind({ n }),
      refresh_rotate: await bench.refreshRotate({ n }),
      revoke_grant_10: await bench.revokeGrant10({ n: Math.ceil(n / 5) }),
      revoke_grant_100: await bench.revokeGrant100({ n: 50 }),
      ...(adapter === 'redis' ? { code_exchange_c32: await bench.codeExchange({ n: 1000, concurrency: 32 }) } : {}),
    };
    log(`${adapter}: model ops done`);
    const memory = await bench.memoryPer10k(adapter === 'memory' ? {} : { count: 2000, warmup: 200 });
    expect(memory.sample_findable.split('/')[0] === memory.sample_findable.split('/')[1], `${adapter}: memory sample not all findable`);
    log(`${adapter}: memory per 10k done`);
    return { ops, memory };
  } finally {
    await peer.close();
  }
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}`;

async function post(server: PeerServer, path: string, fields: Record<string, string>, auth: 'basic' | 'post' = 'basic') {
  const body = auth === 'post' ? { ...fields, client_id: CLIENT_ID, client_secret: CLIENT_SECRET } : fields;
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth === 'basic' ? { authorization: basic } : {}) },
    body: form(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** One request of each kind by hand, checking the protocol outcomes the load phases rely on. */
async function functionalSection(server: PeerServer) {
  const [code] = await server.call<string[]>('mint', { n: 1 });
  const exchange = await post(server, '/token', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI }, 'post');
  const idToken = String(exchange.json.id_token);
  const jwks = createRemoteJWKSet(new URL(`${server.issuer}/jwks`));
  const verified = await jwtVerify(idToken, jwks, { issuer: server.issuer, audience: CLIENT_ID }).catch(() => undefined);
  const rt1 = String(exchange.json.refresh_token);
  const refresh = await post(server, '/token', { grant_type: 'refresh_token', refresh_token: rt1 });
  const at2 = String(refresh.json.access_token);
  const active = await post(server, '/token/introspection', { token: at2, token_type_hint: 'access_token' });
  const me = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${at2}` } });
  const meBody = (await me.json()) as { sub?: unknown };
  // reusing a rotated refresh token must fail and revoke the grant, taking the new tokens with it
  const reuse = await post(server, '/token', { grant_type: 'refresh_token', refresh_token: rt1 });
  const afterReuse = await post(server, '/token/introspection', { token: at2 });
  // last, because a replayed code also revokes the grant
  const replay = await post(server, '/token', { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT_URI });

  const checks = {
    code_exchange_client_secret_post: exchange.status === 200,
    id_token_es256_verified: verified?.protectedHeader.alg === 'ES256' && /^user-\d+$/.test(String(verified.payload.sub)),
    refresh_rotated: refresh.status === 200 && typeof refresh.json.refresh_token === 'string' && refresh.json.refresh_token !== rt1,
    introspection_active: active.status === 200 && active.json.active === true && typeof active.json.sub === 'string',
    userinfo_sub: me.status === 200 && typeof meBody.sub === 'string',
    rotated_refresh_reuse_rejected: reuse.status === 400 && reuse.json.error === 'invalid_grant',
    reuse_revoked_grant_tokens: afterReuse.status === 200 && afterReuse.json.active === false,
    code_replay_rejected: replay.status === 400 && replay.json.error === 'invalid_grant',
  };
  for (const [name, ok] of Object.entries(checks)) expect(ok, `${server.adapter}: functional ${name}`);
  return checks;
}

/** A short load run of each endpoint; every response is checked by the driver. */
async function httpSection(adapter: Adapter, redisUrl: string) {
  const server = await startPeerServer({ adapter, redisUrl });
  try {
    const functional = await functionalSection(server);
    log(`${adapter}: functional checks done`);
    const driver = createPeerHttpDriver(server);
    await driver.mint(1200);
    const phases: Record<string, PhaseResult> = {
      code_exchange: await driver.run('code_exchange', { amount: 1000 }),
      refresh: await driver.run('refresh', { amount: 600 }),
      introspection: await driver.run('introspection', { duration: 1.5 }),
      userinfo: await driver.run('userinfo', { duration: 1.5 }),
    };
    for (const [phase, r] of Object.entries(phases)) {
      expect(r.failed_checks === 0 && r.errors === 0 && r.ok > 0 && !r.pool_exhausted, `${adapter}: http ${phase} ${r.first_failure ?? ''}`);
    }
    log(`${adapter}: http phases done`);
    return { functional, phases };
  } finally {
    await server.close();
  }
}

const redis = await startPrivateRedis();
log(`private redis-server on ${redis.url} (pid ${redis.pid})`);
const results: Record<string, unknown> = {};
try {
  for (const adapter of ['memory', 'redis'] as const) {
    results[adapter] = {
      model: await modelSection(adapter, redis.url),
      http: await httpSection(adapter, redis.url),
    };
  }
} catch (err) {
  problems.push(String((err as Error)?.stack ?? err));
} finally {
  await redis.stop();
}

const summary = {
  selfcheck: 'peer oidc-provider',
  ok: problems.length === 0,
  problems,
  seconds: Math.round((Date.now() - started) / 100) / 10,
  versions: {
    node: process.version,
    'oidc-provider': version('oidc-provider'),
    redis: version('redis'),
    autocannon: version('autocannon'),
    'redis-server': /v=(\S+)/.exec(execFileSync('redis-server', ['--version']).toString())?.[1],
  },
  gc_note: 'memory readings force GC with global.gc under --expose-gc, else via a V8 flag set at run time (see model.ts)',
  ...results,
};
console.log(JSON.stringify(summary, null, 2));
process.exitCode = summary.ok ? 0 : 1;
