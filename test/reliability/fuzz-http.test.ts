/**
 * Fuzzing the example provider over HTTP (issue 7 item 2, second half): generated methods,
 * paths, query strings, bodies (form, raw, JSON, oversized) and headers (Basic and Bearer
 * credentials, cookies, content types) to every endpoint, with and without a real signed-in
 * browser session, real CSRF tokens, interaction ids, codes and tokens mixed in, through
 * supertest against `createProviderApp` (memory stores). Every answer must be a 2xx–4xx — no
 * 5xx, no dropped connection — and afterwards `Object.prototype` is unchanged, nothing was logged
 * as an unexpected error, a real sign-in still works and the tree audits clean. The seed is fresh
 * on every run and printed; FUZZ_SEED=<seed> replays a run (fuzz-seed.ts).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as oidc from 'openid-client';
import request from 'supertest';
import { SESSION_COOKIE } from '../../examples/provider/app.js';
import { prototypeSnapshot } from '../conformance/harness.js';
import { Agent, formsOf } from '../examples/helpers/agent.js';
import { authorizationRequest, interact, signIn } from '../examples/helpers/flows.js';
import { startProvider, type RunningProvider } from '../examples/helpers/provider.js';
import { auditDump } from './audit.js';
import { fuzzSeed, roundSeed } from './fuzz-seed.js';
import { hostileString, PROTO_KEYS } from './fuzz-values.js';

const APP_SECRET = 'app-secret-0123456789abcdef';
const POST_SECRET = 'post-secret-0123456789abcdef';
const ODD_ID = 'ünï cødé;;:%__proto__';
const ODD_SECRET = 'odd-secret-0123456789abcdef-ü';
const REDIRECT = 'http://127.0.0.1:9/callback';
const insecure = { execute: [oidc.allowInsecureRequests] };

/** Every route of the example provider (README "Endpoints"), with the methods it answers. */
const ENDPOINTS: ReadonlyArray<readonly [string, string]> = [
  ['GET', '/'],
  ['GET', '/.well-known/openid-configuration'],
  ['GET', '/jwks'],
  ['GET', '/static/style.css'],
  ['GET', '/static/autosubmit.js'],
  ['GET', '/authorize'],
  ['POST', '/authorize'],
  ['GET', '/interaction/:uid'],
  ['POST', '/interaction/:uid/login'],
  ['POST', '/interaction/:uid/consent'],
  ['GET', '/login'],
  ['POST', '/login'],
  ['POST', '/token'],
  ['POST', '/token/introspection'],
  ['POST', '/token/revocation'],
  ['GET', '/userinfo'],
  ['POST', '/userinfo'],
  ['GET', '/session/end'],
  ['POST', '/session/end'],
  ['POST', '/session/end/confirm'],
  ['GET', '/account'],
  ['POST', '/account/grants/revoke'],
  ['POST', '/account/browser-sessions/end'],
  ['POST', '/account/logout-everywhere'],
];

const PARAMS = [
  'client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'nonce', 'prompt', 'max_age', 'login_hint', 'code_challenge',
  'code_challenge_method', 'request', 'request_uri', 'grant_type', 'code', 'code_verifier', 'refresh_token', 'client_secret',
  'client_assertion', 'token', 'token_type_hint', 'access_token', 'id_token_hint', 'post_logout_redirect_uri', 'csrf', 'username',
  'password', 'decision', 'logout', 'resubmitted', 'sessionId', 'browserSessionId', 'a[b]', '__proto__[polluted]', 'constructor[prototype][polluted]',
  ...PROTO_KEYS,
];

/** What a round of requests aims at: a signed-in browser and what it holds. */
interface Seeds {
  cookie: string;
  uid: string;
  csrf: string[];
  tokens: string[];
  sessionIds: string[];
  browserSessionIds: string[];
}

/** A request as generated: everything is data, so fast-check can shrink it. */
interface FuzzRequest {
  /** The route aimed at (method and path template), for the per-endpoint count. */
  endpoint: string;
  method: string;
  path: string;
  query?: string;
  body?: { type: string; text: string };
  headers: Record<string, string>;
}

/** Header values Node's HTTP client can send: visible latin-1 and spaces (others are refused before sending). */
const headerSafe = (s: string) => s.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

function requestArb(s: Seeds, endpointIndex: fc.Arbitrary<number>): fc.Arbitrary<FuzzRequest> {
  const real = fc.constantFrom(...s.tokens, ...s.csrf, ...s.sessionIds, ...s.browserSessionIds, s.uid, 'app', 'post-app', 'spa', ODD_ID, REDIRECT, 'code', 'openid', 'openid offline_access', 'allow', 'yes', '1', 'none', 'login', 'consent', 'S256', 'authorization_code', 'refresh_token', 'alice', 'alice-pw');
  const value = fc.oneof({ weight: 2, arbitrary: real }, { weight: 2, arbitrary: hostileString }, { weight: 1, arbitrary: fc.string({ maxLength: 80 }) });
  const params = fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PARAMS) }, { weight: 1, arbitrary: hostileString }), value), { maxLength: 8 });
  const encoded = params.map((ps) => ps.map(([k, v]) => `${encodeURIComponent(k.toWellFormed())}=${encodeURIComponent(v.toWellFormed())}`).join('&'));
  const rawQuery = fc.oneof(encoded, fc.constantFrom('%', '%zz', '&&&', '=x', 'a=%00', '%E0%A4%A', 'a=1&a=2&a=3', '__proto__[x]=1', 'a[b][c]=1', 'x='.padEnd(5000, 'y'), ''), fc.string({ unit: fc.constantFrom('a', '=', '&', '%', '2', '5', '+', ';', '#'), maxLength: 30 }));
  const body = fc.oneof(
    { weight: 4, arbitrary: encoded.map((text) => ({ type: 'application/x-www-form-urlencoded', text })) },
    { weight: 1, arbitrary: rawQuery.map((text) => ({ type: 'application/x-www-form-urlencoded', text })) },
    { weight: 1, arbitrary: params.map((ps) => ({ type: 'application/json', text: `{${ps.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}` })) },
    { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded; charset=utf-7', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded').chain((type) => fc.oneof(hostileString, fc.constant('{"__proto__":{"polluted":1}}'), fc.constant('a=1&'.repeat(20_000))).map((text) => ({ type, text }))) },
  );
  const basic = fc.tuple(fc.oneof(fc.constantFrom('app', 'post-app', 'spa', ODD_ID), hostileString), fc.oneof(fc.constantFrom(APP_SECRET, POST_SECRET, ODD_SECRET, ''), hostileString), fc.boolean()).map(
    ([id, secret, encode]) => `Basic ${Buffer.from(encode ? `${encodeURIComponent(id.toWellFormed())}:${encodeURIComponent(secret.toWellFormed())}` : `${id}:${secret}`).toString('base64')}`,
  );
  const authorization = fc.oneof(
    basic,
    fc.tuple(fc.constantFrom('Bearer ', 'bearer ', 'Bearer  ', 'DPoP ', 'Basic '), fc.oneof(fc.constantFrom(...s.tokens), hostileString)).map(([a, b]) => headerSafe(a + b)),
    hostileString.map(headerSafe),
  );
  const cookie = fc.oneof(
    fc.constant(`${SESSION_COOKIE}=${s.cookie}`),
    fc.constant(`${SESSION_COOKIE}=${s.cookie}; ${SESSION_COOKIE}=s%3Aother.sig`),
    hostileString.map((v) => headerSafe(`${SESSION_COOKIE}=${v}`)),
    fc.nat({ max: s.cookie.length }).map((i) => `${SESSION_COOKIE}=${s.cookie.slice(0, i)}${s.cookie.slice(i + 1)}`),
    hostileString.map(headerSafe),
  );
  const headers = fc
    .record(
      {
        authorization,
        cookie,
        'content-type': fc.oneof(fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/html'), hostileString.map(headerSafe)),
        accept: fc.constantFrom('application/json', 'text/html', '*/*', ''),
        'x-forwarded-proto': fc.constantFrom('https', 'http', 'gopher'),
        'x-forwarded-for': hostileString.map(headerSafe),
        origin: fc.constantFrom('http://evil.example', 'null', REDIRECT),
      },
      { requiredKeys: [] },
    )
    .map((h) => h as Record<string, string>);
  const method = fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'GET', 'POST') });
  const uid = fc.oneof({ weight: 3, arbitrary: fc.constant(s.uid) }, { weight: 1, arbitrary: hostileString.map((x) => encodeURIComponent(x.toWellFormed()).slice(0, 300)) });
  const suffix = fc.oneof({ weight: 8, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('/', '//', '/..', '%2F', '.json', '/x', '%00', '?') });
  return fc.record({ e: endpointIndex, method, uid, suffix, query: fc.option(rawQuery, { nil: undefined }), body: fc.option(body, { nil: undefined }), headers }).map(({ e, method: m, uid: u, suffix: sfx, query, body: b, headers: h }) => {
    const [defaultMethod, path] = ENDPOINTS[e % ENDPOINTS.length]!;
    const r: FuzzRequest = { endpoint: `${defaultMethod} ${path}`, method: m ?? defaultMethod, path: path.replace(':uid', u) + sfx, headers: h };
    if (query !== undefined) r.query = query;
    if (b !== undefined && r.method !== 'GET' && r.method !== 'HEAD') r.body = b;
    return r;
  });
}

describe('reliability: fuzzing every example-provider endpoint over HTTP', function () {
  this.timeout(180_000);
  let op: RunningProvider;
  let app: oidc.Configuration;

  before(async () => {
    op = await startProvider({
      host: '127.0.0.1',
      clients: [
        { client_id: 'app', client_secret: APP_SECRET, redirect_uris: [REDIRECT], post_logout_redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'] },
        { client_id: 'post-app', client_secret: POST_SECRET, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [REDIRECT] },
        { client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], subject_type: 'pairwise' },
        { client_id: ODD_ID, client_secret: ODD_SECRET, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'] },
      ],
    });
    app = await oidc.discovery(new URL(op.issuer), 'app', undefined, oidc.ClientSecretBasic(APP_SECRET), insecure);
  });
  after(async () => {
    await op?.close();
  });

  /** A signed-in browser with tokens, an unredeemed code, a pending interaction and the CSRF tokens of its forms. */
  async function seed(user: string): Promise<Seeds> {
    const agent = new Agent();
    const host = new URL(op.issuer).host;
    const who = { username: user, password: `${user}-pw` };
    const { tokens } = await signIn(agent, app, REDIRECT, who, { scope: 'openid profile email offline_access' });
    const again = await authorizationRequest(app, REDIRECT, { scope: 'openid' });
    const code = (await interact(agent, again.url, new URL(REDIRECT).origin, who)).searchParams.get('code')!;
    const pending = await authorizationRequest(app, REDIRECT, { prompt: 'consent' });
    const hop = await agent.walk(pending.url, (u) => u.origin === new URL(REDIRECT).origin);
    const consentHtml = await hop.response!.text();
    const uid = hop.url.pathname.split('/')[2]!;
    const account = await (await agent.request(`${op.issuer}/account`)).text();
    const end = await (await agent.request(`${op.issuer}/session/end?client_id=app`)).text();
    const forms = [...formsOf(consentHtml), ...formsOf(account), ...formsOf(end)];
    return {
      cookie: agent.cookie(host, SESSION_COOKIE)!,
      uid,
      csrf: [...new Set(forms.map((f) => f.fields.csrf).filter((x): x is string => x !== undefined))],
      tokens: [tokens.access_token, tokens.refresh_token!, tokens.id_token!, code],
      sessionIds: forms.map((f) => f.fields.sessionId).filter((x): x is string => x !== undefined),
      browserSessionIds: forms.map((f) => f.fields.browserSessionId).filter((x): x is string => x !== undefined),
    };
  }

  it('≥ 10,000 generated requests: only 2xx–4xx, no crash, no pollution; a real sign-in still works and the tree audits clean', async () => {
    const proto = prototypeSnapshot();
    const byEndpoint = new Map<string, number>();
    const byStatus = new Map<number, number>();
    let sent = 0;
    let refusedByClient = 0;
    const TARGET = 10_000;
    const PER_ROUND = 1000;
    const MAX_ROUNDS = 15; // bounds the run if the HTTP client ever refused many inputs before sending
    const runSeed = fuzzSeed('HTTP fuzz');
    // Rounds until TARGET requests were answered: the ones Node's client refuses to send don't count.
    for (let round = 0; sent < TARGET && round < MAX_ROUNDS; round++) {
      const seeds = await seed(`user${round}`);
      assert.ok(seeds.csrf.length >= 2 && seeds.sessionIds.length >= 1, 'the seed found the forms it aims at');
      // Round-robin over the endpoints, so each gets its share.
      let next = 0;
      const endpoint = fc.constant(0).map(() => next++);
      await fc.assert(
        fc.asyncProperty(requestArb(seeds, endpoint), async (r) => {
          let req = request(op.issuer)[r.method.toLowerCase() as 'get'](r.path + (r.query !== undefined ? `?${r.query}` : ''));
          for (const [k, v] of Object.entries(r.headers)) req = req.set(k, v);
          req = req.redirects(0).timeout(10_000).ok(() => true);
          if (r.body) req = req.set('content-type', r.body.type).send(r.body.text);
          let res: request.Response;
          try {
            res = await req;
          } catch (e) {
            const err = e as NodeJS.ErrnoException & { timeout?: number };
            // Node's client refuses some paths and headers before sending: nothing reached the server.
            if (err.code === 'ERR_INVALID_CHAR' || err.code === 'ERR_UNESCAPED_CHARACTERS' || err.code === 'ERR_INVALID_HTTP_TOKEN' || err instanceof TypeError) {
              refusedByClient++;
              return;
            }
            throw new Error(`${r.method} ${r.path}: no answer (${err.code ?? err.name}: ${err.message})`);
          }
          sent++;
          byEndpoint.set(r.endpoint, (byEndpoint.get(r.endpoint) ?? 0) + 1);
          byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
          assert.ok(res.status >= 200 && res.status < 500, `${r.method} ${r.path}${r.query ? `?${r.query.slice(0, 200)}` : ''} answered ${res.status}: ${String(res.text).slice(0, 200)}`);
        }),
        { numRuns: PER_ROUND, seed: roundSeed(runSeed, round) },
      );
    }
    const statuses = [...byStatus].sort((a, b) => a[0] - b[0]).map(([k, n]) => `${k}×${n}`).join(' ');
    console.log(`      ${sent} requests answered (inputs tried; ${refusedByClient} more refused by the HTTP client before sending); statuses ${statuses}`);
    for (const [m, p] of ENDPOINTS) {
      const n = byEndpoint.get(`${m} ${p}`) ?? 0;
      assert.ok(n >= 100, `${m} ${p} got only ${n} requests`);
    }
    assert.ok(sent >= TARGET, `only ${sent} requests were answered`);
    assert.deepEqual(prototypeSnapshot(), proto, 'Object.prototype unchanged');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(op.logs.filter((l) => l.startsWith('error:') && l.includes('unexpected')), [], 'no unexpected error was logged');

    // Still working: a complete sign-in, code exchange, userinfo and introspection.
    const agent = new Agent();
    const { tokens, claims } = await signIn(agent, app, REDIRECT, { username: 'alice', password: 'alice-pw' });
    assert.equal((await oidc.fetchUserInfo(app, tokens.access_token, claims.sub)).sub, claims.sub);
    assert.equal((await oidc.tokenIntrospection(app, tokens.access_token)).active, true);
    const audit = auditDump(await op.manager.dump(), Date.now(), { singleRedemption: true, singleRefreshPerFamily: true });
    assert.deepEqual(audit.violations, []);
  });
});
