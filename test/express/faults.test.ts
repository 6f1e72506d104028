/**
 * Field faults 1, 5 and 20 of reference/field-faults.md against the middleware, in every
 * configuration (express 4 and 5; express-session on MemoryStore and on connect-redis).
 */
import assert from 'node:assert/strict';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { oidcSessions, SessionManager, sessionCookie, Misconfigured } from '../../src/index.js';
import { SECRETS } from '../conformance/harness.js';
import { buildApp, cookiePair, forEachConfiguration, h, loggedIn, sessionIdFrom, setCookie, sleep, type TestApp, COOKIE } from './harness.js';

const AUTH = { client_id: 'app-one', response_type: 'code', scope: 'openid', redirect_uri: 'https://one.example/cb' };
/** What a browser adds to a cross-site form POST from the relying party's page. */
const CROSS_SITE = { Origin: 'https://rp.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'navigate' };

forEachConfiguration('field faults', (cfg, ctx) => {
  describe('fault 1: the session id does not survive login; the old record is deleted', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await buildApp(cfg, ctx.redis);
    });
    afterEach(async () => t.close());

    async function keyExists(id: string): Promise<boolean> {
      if (t.redis) return (await t.redis.client.exists(t.redis.prefix + id)) === 1;
      return (await t.storedSession(id)) !== null;
    }

    it('a planted pre-login id is anonymous after the victim logs in, and gone from the store', async () => {
      const victim = t.agent();
      const start = await victim.get('/authorize').query(AUTH).expect(200); // interaction starts: S0
      assert.equal(start.body.interaction, 'login');
      const s0 = sessionIdFrom(start)!;
      const planted = cookiePair(start)!;
      assert.ok(s0 && (await keyExists(s0)));

      const login = await victim.post('/login').send({ userId: 'alice', carry: ['pending'] }).expect(200);
      const s1 = sessionIdFrom(login)!;
      assert.ok(s1, 'login issues a new cookie');
      assert.notEqual(s1, s0);
      assert.equal(await keyExists(s0), false, 'S0 is deleted, not merely orphaned');
      assert.deepEqual(Object.keys((await t.storedSession(s1))!).sort(), ['cookie', 'oidc', 'pending'], 'only the pending request is carried');

      const attacker = await request(t.url).get('/authorize').set('Cookie', planted).query({ ...AUTH, prompt: 'none' }).expect(400);
      assert.equal(attacker.body.error, 'login_required');
      assert.equal((await request(t.url).get('/whoami').set('Cookie', planted).expect(200)).body.userId, null);
      assert.equal((await victim.get('/whoami').expect(200)).body.userId, 'alice');
    });

    it('login() has stored the new session when it resolves, before the response (a redirect) is sent', async () => {
      const seen: { atLogin?: Record<string, unknown> | null } = {};
      const app = await buildApp(cfg, ctx.redis, {
        routes: (a) =>
          a.post(
            '/login-then-redirect',
            h(async (req, res) => {
              await req.oidcSessions.login('alice');
              seen.atLogin = await app.storedSession(req.sessionID);
              res.redirect(303, '/whoami');
            }),
          ),
      });
      try {
        await app.agent().post('/login-then-redirect').expect(303);
        assert.ok(seen.atLogin, 'the session record exists when login() resolves');
        assert.equal((seen.atLogin.oidc as { userId?: string }).userId, 'alice');
      } finally {
        await app.close();
      }
    });

    it('step-up (new acr) rotates the id again and deletes the previous record', async () => {
      const { agent, res } = await loggedIn(t, 'alice', { acr: 'urn:acr:pwd' });
      const s1 = sessionIdFrom(res)!;
      t.clock.advance(1000);
      const up = await agent.post('/login').send({ userId: 'alice', acr: 'urn:acr:mfa' }).expect(200);
      const s2 = sessionIdFrom(up)!;
      assert.notEqual(s2, s1);
      assert.equal(await keyExists(s1), false);
      assert.equal((await request(t.url).get('/whoami').set('Cookie', cookiePair(res)!)).body.userId, null);
    });

    it('logout rotates too: the logged-in id is deleted', async () => {
      const { agent, res } = await loggedIn(t);
      const s1 = sessionIdFrom(res)!;
      await agent.post('/logout').send({}).expect(200);
      assert.equal(await keyExists(s1), false);
    });
  });

  // Real-time test (about 3 s each): the session store is what matters here, not the Express
  // major, so it runs on express 5 only — with both session stores and the all-Redis setup.
  if (cfg.flavour === 'express 5') describe('fault 5: store TTL and session expiry cannot drift apart', function () {
    // Real time, scaled down: a 2 s login, a request every 300 ms, checks just after expiry.
    // (Cookie Expires has whole-second precision, so the browser drops it up to 1 s early.)
    const VALID_FOR = 2;

    async function storeRemainingMs(t: TestApp, id: string): Promise<number | undefined> {
      if (t.redis) {
        const pttl = await t.redis.client.pTTL(t.redis.prefix + id);
        return pttl < 0 ? undefined : pttl;
      }
      const raw = await t.storedSession(id);
      const expires = (raw?.cookie as { expires?: string } | undefined)?.expires;
      return raw === null ? undefined : expires === undefined ? Number.POSITIVE_INFINITY : Date.parse(expires) - Date.now();
    }

    for (const rolling of [false, true]) {
      it(`${rolling ? 'rolling' : 'absolute'} cookie: the store never keeps the session past the login, and then the browser is anonymous`, async () => {
        const t = await buildApp(cfg, ctx.redis, { realClock: true, session: { rolling, cookie: sessionCookie({ maxAge: 3_600_000 }) } });
        try {
          const { agent, res } = await loggedIn(t, 'alice', { validFor: VALID_FOR });
          const id = sessionIdFrom(res)!;
          const validUntil = (await agent.get('/whoami')).body.authnEvent.validUntil as number;
          // The cookie the browser got expires with the login, not an hour later.
          const expires = Date.parse(/Expires=([^;]+)/.exec(setCookie(res).find((c) => c.startsWith(COOKIE))!)![1]!);
          assert.ok(expires <= validUntil + 1000, 'cookie Expires follows the login');
          const code = (await agent.get('/authorize').query(AUTH).expect(200)).body.code as string;
          const tok = (await request(t.url).post('/token').send({ code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(200)).body;

          while (Date.now() < validUntil - 1100) {
            const r = await agent.get('/whoami').expect(200);
            assert.equal(r.body.userId, 'alice');
            const remaining = await storeRemainingMs(t, id);
            // connect-redis rounds TTLs up to whole seconds; never more than that beyond the login.
            assert.ok(remaining !== undefined && remaining <= validUntil - Date.now() + 1000, `store TTL ${remaining} ms outlives the login`);
            for (const c of setCookie(r).filter((x) => x.startsWith(COOKIE))) {
              assert.ok(Date.parse(/Expires=([^;]+)/.exec(c)![1]!) <= validUntil + 1000, 'a rolled cookie never outlives the login');
            }
            await sleep(300);
          }
          await sleep(validUntil + 1050 - Date.now());
          assert.equal(await storeRemainingMs(t, id), undefined, 'no store key once the login has expired');
          assert.equal((await agent.get('/whoami').expect(200)).body.userId, null, 'the request is anonymous');
          assert.equal((await request(t.url).post('/introspect').send({ token: tok.access_token })).body.active, false, 'session-bound tokens are inactive');
        } finally {
          await t.close();
        }
      });
    }
  });

  describe('fault 20: cookie attributes and the OIDC round trip', () => {
    it('SameSite=None without Secure is refused at start-up (helper, option, first request)', async () => {
      assert.throws(() => sessionCookie({ sameSite: 'none', secure: false }), Misconfigured);
      assert.throws(() => sessionCookie({ sameSite: 'none' }), /SameSite=None without Secure/, "secure 'auto' is not enough");
      const manager = new SessionManager({ secrets: SECRETS, logger: { warn: () => {} } });
      assert.throws(() => oidcSessions({ manager, cookie: { sameSite: 'none', secure: false } }), Misconfigured);
      for (const secure of [false, 'auto'] as const) {
        const t = await buildApp(cfg, ctx.redis, { session: { cookie: { sameSite: 'none', secure, httpOnly: true } } });
        try {
          const res = await t.agent().post('/login').send({ userId: 'alice' }).expect(500);
          assert.deepEqual(res.body, { error: 'server_error' });
          assert.deepEqual(setCookie(res), [], 'no cookie is set');
          assert.match(String((t.errors[0] as Error).message), /SameSite=None without Secure/);
        } finally {
          await t.close();
        }
      }
    });

    it("sameSite 'auto' picks Lax on HTTP and None; Secure on HTTPS", async () => {
      const t = await buildApp(cfg, ctx.redis, { trustProxy: true, session: { cookie: sessionCookie({ sameSite: 'auto' }) } });
      try {
        const http = setCookie(await t.agent().post('/login').send({ userId: 'alice' }).expect(200))[0]!;
        assert.match(http, /SameSite=Lax/);
        assert.doesNotMatch(http, /Secure/);
        const https = setCookie(await t.agent().post('/login').set('X-Forwarded-Proto', 'https').send({ userId: 'alice' }).expect(200))[0]!;
        assert.match(https, /SameSite=None/);
        assert.match(https, /Secure/);
      } finally {
        await t.close();
      }
    });

    describe('with Lax cookies, a cross-site POST arrives without the cookie', () => {
      let t: TestApp;
      beforeEach(async () => {
        t = await buildApp(cfg, ctx.redis);
      });
      afterEach(async () => t.close());

      it('prompt=none authorize answers login_required and sets no cookie; a later top-level GET still finds the session', async () => {
        const { agent, res } = await loggedIn(t);
        const id = sessionIdFrom(res)!;
        const post = await request(t.url).post('/authorize').set(CROSS_SITE).send({ ...AUTH, prompt: 'none' }).expect(400);
        assert.equal(post.body.error, 'login_required');
        assert.deepEqual(setCookie(post), [], 'no Set-Cookie: the real cookie is not overwritten');
        assert.ok(await t.storedSession(id), 'the real session is intact');
        assert.equal((await agent.get('/whoami').expect(200)).body.userId, 'alice');
        const silent = await agent.get('/authorize').query({ ...AUTH }).expect(200);
        assert.ok(silent.body.code, 'the top-level GET authorizes');
      });

      it('a cross-site logout POST is not reported as done for a session it could not see', async () => {
        const { agent } = await loggedIn(t);
        const post = await request(t.url).post('/logout').set(CROSS_SITE).send({}).expect(200);
        assert.deepEqual(post.body, { seen: false, notices: [] }, 'the app can fall back to a same-site confirmation page');
        assert.deepEqual(setCookie(post), []);
        assert.equal((await agent.get('/whoami').expect(200)).body.userId, 'alice', 'nothing was logged out');
      });
    });
  });
});

describe('fault 20 without the harness: express-session defaults are not silently accepted', function () {
  it('httpOnly: false is refused at the first request', async () => {
    const manager = new SessionManager({ secrets: SECRETS, logger: { warn: () => {} } });
    const app = express();
    app.use(session({ secret: 'x'.repeat(32), resave: false, saveUninitialized: false, cookie: { httpOnly: false } }));
    app.use(oidcSessions({ manager }));
    app.get('/', (_req, res) => res.send('ok'));
    let seen: unknown;
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen = err;
      res.status(500).end();
    });
    await request(app).get('/').expect(500);
    assert.ok(seen instanceof Misconfigured);
  });
});
