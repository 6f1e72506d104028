/**
 * The example provider's JSON APIs (examples/provider/api.ts) as a client sees them at the HTTP
 * level: headers, methods, body limits, and the same answer whichever way the request target is
 * written (the request listener answers plain paths itself, Express's parser routes the rest).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import express from 'express';
import { apiResponder, type NodeMiddleware } from '../../examples/provider/api.js';
import { OAuthError } from '../../examples/provider/oauth-errors.js';
import { StoreUnavailable } from '../../src/index.js';
import { Agent } from './helpers/agent.js';
import { interact } from './helpers/flows.js';
import { freshUser, startProvider, type RunningProvider } from './helpers/provider.js';

const SECRET = 'api-secret-0123456789abcdef';
const FORM = 'application/x-www-form-urlencoded';
const REDIRECT = 'http://127.0.0.1:9/cb';

/** The example provider on loopback with one confidential client, `api`. */
const startApiProvider = () =>
  startProvider({
    host: '127.0.0.1',
    clients: [{ client_id: 'api', client_secret: SECRET, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'] }],
  });

/** One request on a fresh connection, as raw bytes: nothing between the test and the server. */
function rawRequest(port: number, request: string): Promise<{ status: number; headers: Map<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString('utf8')));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}

describe('example provider: JSON APIs at the HTTP level', function () {
  this.timeout(20_000);
  let op: RunningProvider;
  let port: number;
  const basic = `Basic ${Buffer.from(`api:${SECRET}`).toString('base64')}`;
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${op.issuer}${path}`, { method: 'POST', headers: { authorization: basic, 'content-type': FORM, ...headers }, body });

  before(async () => {
    op = await startApiProvider();
    port = Number(new URL(op.issuer).port);
  });
  after(() => op?.close());

  it('every answer is JSON with nosniff, a deny-all CSP and no-store, and sets no cookie', async () => {
    const answers = [
      await post('/token', 'grant_type=authorization_code&code=nope&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb'),
      await post('/token', 'grant_type=password'),
      await post('/token', 'grant_type=refresh_token', { authorization: 'Basic ' + Buffer.from('api:wrong-secret-0123456789').toString('base64') }),
      await post('/token/introspection', 'token=nope'),
      await post('/token/revocation', 'token=nope'),
      await fetch(`${op.issuer}/userinfo`, { headers: { authorization: 'Bearer nope' } }),
      await fetch(`${op.issuer}/token`),
    ];
    assert.deepEqual(
      answers.map((r) => r.status),
      [400, 400, 401, 200, 200, 401, 405],
    );
    for (const res of answers) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', res.url);
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", res.url);
      assert.equal(res.headers.get('cache-control'), 'no-store', res.url);
      assert.equal(res.headers.get('set-cookie'), null, res.url);
      assert.equal(res.headers.get('x-powered-by'), null, res.url);
      const text = await res.text();
      if (res.url.endsWith('/revocation')) assert.equal(text, '');
      else assert.match(res.headers.get('content-type')!, /^application\/json; charset=utf-8$/);
    }
    assert.equal(answers[2]!.headers.get('www-authenticate'), `Basic realm="${op.issuer}", charset="UTF-8"`);
    assert.deepEqual(await (await post('/token/introspection', 'token=nope')).json(), { active: false });
  });

  it('methods: 405 with Allow for the others, OPTIONS lists them, HEAD is GET without a body', async () => {
    for (const [method, path, allow] of [
      ['GET', '/token', 'POST'],
      ['PUT', '/token/introspection', 'POST'],
      ['DELETE', '/token/revocation', 'POST'],
      ['PATCH', '/userinfo', 'GET, HEAD, POST'],
    ] as const) {
      const res = await fetch(`${op.issuer}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), allow);
      assert.deepEqual(await res.json(), { error: 'invalid_request', error_description: 'unsupported method' });
    }
    const options = await fetch(`${op.issuer}/userinfo`, { method: 'OPTIONS' });
    assert.equal(options.status, 200);
    assert.equal(options.headers.get('allow'), 'GET, HEAD, POST');
    assert.equal(await options.text(), 'GET, HEAD, POST');

    const get = await fetch(`${op.issuer}/userinfo`, { headers: { authorization: 'Bearer nope' } });
    const head = await rawRequest(port, `HEAD /userinfo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nConnection: close\r\n\r\n`);
    assert.equal(head.status, 401);
    assert.equal(head.headers.get('www-authenticate'), get.headers.get('www-authenticate'));
    assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(await get.text())));
    assert.equal(head.body, '');
  });

  it("the body parser's limits hold: 64 kB, 64 parameters, UTF-8 or Latin-1 only", async () => {
    const big = await post('/token', `grant_type=refresh_token&pad=${'a'.repeat(64 * 1024)}`);
    assert.equal(big.status, 413);
    const many = await post('/token', Array.from({ length: 65 }, (_, i) => `p${i}=1`).join('&'));
    assert.equal(many.status, 413);
    const charset = await post('/token', 'grant_type=refresh_token', { 'content-type': `${FORM}; charset=koi8-r` });
    assert.equal(charset.status, 415);
    for (const res of [big, many, charset]) {
      const body = (await res.json()) as { error: string };
      assert.equal(typeof body.error, 'string');
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    }
    // A repeated parameter is refused, not merged (RFC 6749 §3.1).
    const twice = await post('/token', 'grant_type=refresh_token&grant_type=refresh_token');
    assert.deepEqual(await twice.json(), { error: 'invalid_request', error_description: 'parameter grant_type must be given once' });
    // The bearer token stays in the header: an access_token in a POST body is no credential.
    const inBody = await fetch(`${op.issuer}/userinfo`, { method: 'POST', headers: { 'content-type': FORM }, body: 'access_token=nope' });
    assert.equal(inBody.status, 401);
    await inBody.body?.cancel();
  });

  it('a request target in absolute form gets the answer of the plain path', async () => {
    const body = 'grant_type=password';
    const request = (target: string) =>
      `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${basic}\r\nContent-Type: ${FORM}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const plain = await rawRequest(port, request('/token?x=1'));
    const absolute = await rawRequest(port, request(`${op.issuer}/token?x=1`));
    assert.equal(plain.status, 400);
    assert.equal(absolute.status, plain.status);
    assert.equal(absolute.body, plain.body);
    for (const h of ['content-type', 'content-security-policy', 'x-content-type-options', 'cache-control']) {
      assert.equal(absolute.headers.get(h), plain.headers.get(h), h);
    }
    // Not an API path: Express's pages answer (404), whatever the spelling.
    assert.equal((await rawRequest(port, request('/token/'))).status, 404);
    assert.equal((await rawRequest(port, request('/TOKEN'))).status, 404);
  });
});

describe('example provider: one set of client credentials per request (RFC 6749 §2.3, §3.2)', function () {
  this.timeout(20_000);
  let op: RunningProvider;
  let port: number;
  const basicOf = (secret: string) => `Basic ${Buffer.from(`api:${secret}`).toString('base64')}`;
  const basic = basicOf(SECRET);
  const wrong = basicOf('wrong-secret-0123456789abcdef');
  const PATHS = ['/token', '/token/introspection', '/token/revocation'] as const;
  const bodyFor = (path: string) =>
    path === '/token' ? `grant_type=authorization_code&code=nope&redirect_uri=${encodeURIComponent(REDIRECT)}` : 'token=nope';
  /** Both doors: a plain path is answered by the request listener, the absolute form by Express's router. */
  const targets = (path: string) => [path, `${op.issuer}${path}`];

  /** A POST with exactly these header lines (repeats kept, as a client or proxy might send them). */
  function post(target: string, lines: readonly (readonly [string, string])[], body: string) {
    const head = lines.map(([k, v]) => `${k}: ${v}\r\n`).join('');
    return rawRequest(
      port,
      `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}Content-Type: ${FORM}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  /** A fresh authorization code for client `api`, through the login and consent pages. */
  async function code(): Promise<string> {
    const query = new URLSearchParams({ client_id: 'api', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 's' });
    const callback = await interact(new Agent(), new URL(`${op.issuer}/authorize?${query}`), new URL(REDIRECT).origin, freshUser());
    return callback.searchParams.get('code')!;
  }

  const assertRefused = (res: { status: number; body: string; headers: Map<string, string> }, description: string, where: string) => {
    assert.equal(res.status, 400, where);
    assert.deepEqual(JSON.parse(res.body), { error: 'invalid_request', error_description: description }, where);
    assert.equal(res.headers.get('cache-control'), 'no-store', where);
    assert.equal(res.headers.get('www-authenticate'), undefined, `${where}: a malformed request, not a failed authentication`);
    assert.ok(!res.body.includes(SECRET) && !res.body.includes(basic.slice(6)), `${where}: no credential echoed`);
  };

  before(async () => {
    op = await startApiProvider();
    port = Number(new URL(op.issuer).port);
  });
  after(() => op?.close());

  it('two Authorization headers are 400 invalid_request on token, introspection and revocation, whichever comes first', async () => {
    // Node keeps only the first Authorization line in req.headers: [basic, wrong] used to pass.
    const pairs = [
      [['Authorization', basic], ['Authorization', wrong]],
      [['Authorization', wrong], ['Authorization', basic]],
      [['Authorization', basic], ['authorization', basic]],
      [['AUTHORIZATION', basic], ['Authorization', 'Bearer nope']],
    ] as const;
    for (const path of PATHS) {
      for (const target of targets(path)) {
        for (const lines of pairs) {
          assertRefused(await post(target, lines, bodyFor(path)), 'send one Authorization header, not several', `${target} ${lines.map((l) => l[0])}`);
        }
        // Refused before either line is read: even two empty Basic headers get the same answer.
        assertRefused(await post(target, [['Authorization', 'Basic'], ['Authorization', 'Basic']], bodyFor(path)), 'send one Authorization header, not several', target);
      }
    }
  });

  it('one Authorization header still authenticates, through either door', async () => {
    for (const target of targets('/token/introspection')) {
      const res = await post(target, [['Authorization', basic]], 'token=nope');
      assert.equal(res.status, 200, target);
      assert.deepEqual(JSON.parse(res.body), { active: false });
    }
    for (const target of targets('/token/revocation')) assert.equal((await post(target, [['Authorization', basic]], 'token=nope')).status, 200, target);
    for (const target of targets('/token')) {
      // Past client authentication: the made-up code is the grant's problem.
      const res = await post(target, [['Authorization', basic]], bodyFor('/token'));
      assert.equal(JSON.parse(res.body).error, 'invalid_grant', target);
      assert.equal((await post(target, [['Authorization', wrong]], bodyFor('/token'))).status, 401, target);
    }
  });

  it('a code exchange refused for two Authorization headers or a repeated parameter leaves the code to redeem', async () => {
    for (const target of targets('/token')) {
      const value = await code();
      const form = `grant_type=authorization_code&code=${encodeURIComponent(value)}&redirect_uri=${encodeURIComponent(REDIRECT)}`;
      assertRefused(await post(target, [['Authorization', basic], ['Authorization', basic]], form), 'send one Authorization header, not several', target);
      assertRefused(await post(target, [['Authorization', basic]], `${form}&code=${encodeURIComponent(value)}`), 'parameter code must be given once', target);
      const res = await post(target, [['Authorization', basic]], form);
      assert.equal(res.status, 200, target);
      const tokens = JSON.parse(res.body) as Record<string, unknown>;
      assert.equal(tokens.token_type, 'Bearer');
      assert.equal(typeof tokens.access_token, 'string');
      assert.equal(typeof tokens.id_token, 'string');
    }
  });

  it('Basic with a client_secret in the body, or with another client_id, is 400 invalid_request; the same client_id is accepted', async () => {
    for (const path of PATHS) {
      for (const target of targets(path)) {
        const auth = [['Authorization', basic]] as const;
        for (const secret of [SECRET, 'another-secret-0123456789']) {
          const res = await post(target, auth, `${bodyFor(path)}&client_secret=${secret}`);
          assertRefused(res, 'use one client authentication method: Basic or client_secret in the body, not both', `${target} + client_secret`);
          assert.ok(!res.body.includes(secret));
        }
        assertRefused(await post(target, auth, `${bodyFor(path)}&client_id=other`), 'client_id does not match the credentials', `${target} + client_id=other`);
        // RFC 6749 §4.1.3 lets a client name itself in the body too: the same id is no second method.
        const same = await post(target, auth, `${bodyFor(path)}&client_id=api`);
        assert.equal(same.status, path === '/token' ? 400 : 200, `${target} + client_id=api`);
        if (path === '/token') assert.equal(JSON.parse(same.body).error, 'invalid_grant');
      }
    }
  });

  it('userinfo: two Authorization headers are 400 invalid_request with a Bearer challenge (RFC 6750 §3.1)', async () => {
    const request = (target: string, lines: string) => rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Connection: close\r\n\r\n`);
    const form = `grant_type=authorization_code&code=${encodeURIComponent(await code())}&redirect_uri=${encodeURIComponent(REDIRECT)}`;
    const accessToken = (JSON.parse((await post('/token', [['Authorization', basic]], form)).body) as { access_token: string }).access_token;
    for (const target of targets('/userinfo')) {
      for (const second of [accessToken, 'nope']) {
        const twice = await request(target, `Authorization: Bearer ${accessToken}\r\nauthorization: Bearer ${second}\r\n`);
        assert.equal(twice.status, 400, target);
        assert.deepEqual(JSON.parse(twice.body), { error: 'invalid_request', error_description: 'send one Authorization header, not several' });
        assert.equal(twice.headers.get('www-authenticate'), `Bearer realm="${op.issuer}", error="invalid_request"`);
      }
      // One header: the token is judged as before.
      const once = await request(target, `Authorization: Bearer ${accessToken}\r\n`);
      assert.equal(once.status, 200, target);
      assert.equal(typeof JSON.parse(once.body).sub, 'string');
      const unknown = await request(target, 'Authorization: Bearer nope\r\n');
      assert.equal(unknown.status, 401, target);
      assert.equal(JSON.parse(unknown.body).error, 'invalid_token');
    }
  });

  it('repeated parameters on /token are 400 invalid_request (RFC 6749 §3.2), through either door', async () => {
    const one = { grant_type: 'authorization_code', code: 'nope', redirect_uri: REDIRECT, code_verifier: 'v'.repeat(43), client_id: 'api' };
    for (const target of targets('/token')) {
      for (const name of Object.keys(one) as (keyof typeof one)[]) {
        const form = new URLSearchParams(one);
        form.append(name, one[name]);
        assertRefused(await post(target, [['Authorization', basic]], form.toString()), `parameter ${name} must be given once`, `${target} ${name}×2`);
      }
      const refresh = 'grant_type=refresh_token&refresh_token=a&refresh_token=b&scope=openid';
      assertRefused(await post(target, [['Authorization', basic]], refresh), 'parameter refresh_token must be given once', `${target} refresh_token×2`);
      const scopes = 'grant_type=refresh_token&refresh_token=a&scope=openid&scope=openid';
      assertRefused(await post(target, [['Authorization', basic]], scopes), 'parameter scope must be given once', `${target} scope×2`);
    }
  });
});

describe('example provider: apiResponder error answers', () => {
  it('an OAuthError is its own answer, an outage 503, a bug 500 logged by name only, sync throws included', async () => {
    const logs: string[] = [];
    const log = { info: () => {}, warn: () => {}, error: (m: string) => logs.push(m) };
    const secret = 'do-not-log-this-0123456789';
    const api = apiResponder(
      {
        '/oauth': { POST: async () => Promise.reject(new OAuthError('invalid_grant', 'grant is unknown')) },
        '/outage': { POST: async () => Promise.reject(new StoreUnavailable()) },
        '/bug': { POST: async () => Promise.reject(new TypeError(secret)) },
        // not async: throws before any promise exists
        '/sync-bug': { POST: () => { throw new RangeError(secret); } },
      },
      express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 64 }) as NodeMiddleware,
      log,
    );
    const server = createServer((req, res) => {
      if (!api.serveApi(req.url!, req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const answer = async (path: string) => {
        const res = await fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': FORM }, body: 'a=1' });
        return [res.status, await res.json(), res.headers.get('retry-after')];
      };
      assert.deepEqual(await answer('/oauth'), [400, { error: 'invalid_grant', error_description: 'grant is unknown' }, null]);
      assert.deepEqual(await answer('/outage'), [503, { error: 'temporarily_unavailable', error_description: 'the session store is unavailable; try again shortly' }, '5']);
      assert.deepEqual(await answer('/bug'), [500, { error: 'server_error', error_description: 'unexpected error' }, null]);
      assert.deepEqual(await answer('/sync-bug'), [500, { error: 'server_error', error_description: 'unexpected error' }, null]);
      assert.deepEqual(logs, ['unexpected error on POST /bug: TypeError', 'unexpected error on POST /sync-bug: RangeError']);
      assert.equal((await fetch(`${base}/elsewhere`)).status, 404, 'other paths are left to the caller');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
