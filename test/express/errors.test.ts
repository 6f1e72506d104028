/**
 * Errors over HTTP: store outages answer 503 {"error":"temporarily_unavailable"} (the tree's
 * store and the session store's Redis alike) and service resumes; typed errors map to statuses;
 * no stack trace or foreign message reaches a client.
 */
import assert from 'node:assert/strict';
import express from 'express';
import request from 'supertest';
import {
  InactiveToken,
  InvalidInput,
  InvalidSessionId,
  LoginRequired,
  MemoryStore,
  Misconfigured,
  MintingNotAllowed,
  oidcSessionsErrorHandler,
  StoreUnavailable,
  TokenReused,
  UnknownSession,
  UnknownToken,
  WrongClient,
} from '../../src/index.js';
import { buildApp, forEachConfiguration, h, loggedIn, sleep, type TestApp } from './harness.js';
import { withOutageSwitch } from './instrumented-stores.js';

const AUTH = { client_id: 'app-one', response_type: 'code', scope: 'openid', redirect_uri: 'https://one.example/cb' };

function assertNoLeak(body: unknown, text: string): void {
  assert.doesNotMatch(text, /\n\s+at |node_modules|\.ts:\d+/, 'no stack trace');
  assert.ok(body !== null && typeof body === 'object');
}

forEachConfiguration('errors', (cfg, ctx) => {
  describe('tree store unavailable', () => {
    let t: TestApp;
    let setDown: (d: boolean) => void;
    beforeEach(async () => {
      const s = withOutageSwitch(new MemoryStore());
      setDown = s.setDown;
      t = await buildApp(cfg, ctx.redis, { treeStore: s.store });
    });
    afterEach(async () => t.close());

    it('a logged-in request answers 503 temporarily_unavailable; anonymous ones still work; service resumes', async () => {
      const { agent } = await loggedIn(t);
      setDown(true);
      const res = await agent.get('/whoami').expect(503);
      assert.deepEqual(res.body, { error: 'temporarily_unavailable' });
      assert.equal(res.headers['cache-control'], 'no-store');
      assertNoLeak(res.body, res.text);
      await t.agent().get('/whoami').expect(200); // no store read for an anonymous browser
      const login = await t.agent().post('/login').send({ userId: 'bob' }).expect(503);
      assert.deepEqual(login.body, { error: 'temporarily_unavailable' });
      assert.deepEqual(login.headers['set-cookie'] ?? [], [], 'a failed login changes nothing in the browser');
      setDown(false);
      assert.equal((await agent.get('/whoami').expect(200)).body.userId, 'alice', 'still logged in after the outage');
    });

    it('logout during an outage fails with 503 and logs nobody out half-way', async () => {
      const { agent } = await loggedIn(t);
      await agent.get('/authorize').query(AUTH).expect(200);
      setDown(true);
      await agent.post('/logout').send({}).expect(503);
      setDown(false);
      assert.equal((await agent.get('/whoami').expect(200)).body.userId, 'alice');
      const out = (await agent.post('/logout').send({}).expect(200)).body;
      assert.equal(out.notices.length, 1, 'the retried logout still notifies the client');
    });
  });

  if (cfg.storeKind === 'connect-redis') {
    it('session store (Redis) down: 503 temporarily_unavailable without hanging; service resumes when Redis returns', async () => {
      const t = await buildApp(cfg, ctx.redis);
      try {
        const { agent } = await loggedIn(t);
        await ctx.redis.instance!.kill();
        const started = Date.now();
        const res = await agent.get('/whoami').expect(503);
        assert.ok(Date.now() - started < 2000, 'fails fast');
        assert.deepEqual(res.body, { error: 'temporarily_unavailable' });
        assertNoLeak(res.body, res.text);
        await ctx.redis.instance!.restart();
        let status = 0;
        for (let i = 0; i < 60 && status !== 200; i++) {
          status = (await agent.get('/whoami')).status;
          if (status !== 200) await sleep(50);
        }
        assert.equal(status, 200);
        // The restarted Redis is empty: the browser is anonymous and can log in again.
        assert.equal((await agent.get('/whoami')).body.userId, null);
        await agent.post('/login').send({ userId: 'alice' }).expect(200);
        assert.equal((await agent.get('/whoami')).body.userId, 'alice');
      } finally {
        await t.close();
      }
    });
  }
});

describe('oidcSessionsErrorHandler', function () {
  const cases: Array<[string, () => unknown, number, string]> = [
    ['InvalidInput', () => new InvalidInput('userId must be a string'), 400, 'invalid_request'],
    ['InvalidSessionId', () => new InvalidSessionId(), 400, 'invalid_request'],
    ['UnknownSession', () => new UnknownSession(), 404, 'invalid_request'],
    ['UnknownToken', () => new UnknownToken(), 400, 'invalid_grant'],
    ['InactiveToken', () => new InactiveToken('expired'), 400, 'invalid_grant'],
    ['TokenReused', () => new TokenReused('grant'), 400, 'invalid_grant'],
    ['MintingNotAllowed', () => new MintingNotAllowed(), 400, 'invalid_grant'],
    ['WrongClient', () => new WrongClient(), 400, 'invalid_grant'],
    ['LoginRequired', () => new LoginRequired(), 401, 'login_required'],
    ['StoreUnavailable', () => new StoreUnavailable(), 503, 'temporarily_unavailable'],
    ['Misconfigured', () => new Misconfigured('secret detail of the deployment'), 500, 'server_error'],
    ['TypeError', () => new TypeError("Cannot read properties of undefined (reading 'secret')"), 500, 'server_error'],
    ['a thrown string', () => 'a string with /etc/passwd', 500, 'server_error'],
    ['ECONNREFUSED', () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }), 503, 'temporarily_unavailable'],
  ];
  for (const flavour of ['express 5', 'express 4'] as const) {
    describe(flavour, function () {
      const logged: unknown[] = [];
      let app: express.Express;
      before(async () => {
        const lib = (flavour === 'express 4' ? (await import('express4')).default : express) as typeof express;
        app = lib();
        app.set('env', 'test'); // Express's final handler would print the late error's stack otherwise
        app.use(lib.json());
        app.get(
          '/throw/:i',
          h(async (req) => {
            throw cases[Number(req.params.i)]![1]();
          }),
        );
        app.post('/json', (_req, res) => res.json({ ok: true }));
        app.get('/late', (_req, res, next) => {
          res.status(200).write('partial');
          next(new Error('after headers'));
        });
        app.use(oidcSessionsErrorHandler({ log: (_m, e) => logged.push(e) }));
      });
      cases.forEach(([name, , status, error], i) => {
        it(`${name} → ${status} ${error}`, async () => {
          const res = await request(app).get(`/throw/${i}`).expect(status).expect('Content-Type', /json/);
          assert.equal(res.body.error, error);
          assertNoLeak(res.body, res.text);
          if (status >= 500) {
            assert.deepEqual(Object.keys(res.body), ['error'], 'no description for server errors');
            assert.doesNotMatch(res.text, /secret|passwd|ECONNREFUSED/);
          }
        });
      });
      it('malformed JSON from a client is 400 invalid_request', async () => {
        const res = await request(app).post('/json').set('Content-Type', 'application/json').send('{"a":').expect(400);
        assert.deepEqual(res.body, { error: 'invalid_request' });
      });
      it('5xx causes are logged server-side', function () {
        assert.ok(logged.some((e) => e instanceof Misconfigured));
      });
      it('an error after the headers went out is left to Express (the connection is closed)', async () => {
        await assert.rejects(request(app).get('/late').then((r) => r));
      });
    });
  }
});
