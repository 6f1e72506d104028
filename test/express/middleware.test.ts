/**
 * req.oidcSessions over HTTP (SPEC §7): login, authorize, codes and tokens, logout, listing —
 * in every configuration (express 4 and 5; express-session on MemoryStore and connect-redis).
 */
import assert from 'node:assert/strict';
import express from 'express';
import session from 'express-session';
import request from 'supertest';
import { Misconfigured, oidcSessions, oidcSessionsErrorHandler, SessionManager } from '../../src/index.js';
import { SECRETS } from '../conformance/harness.js';
import { buildApp, cookiePair, h, forEachConfiguration, loggedIn, sessionIdFrom, setCookie, type TestApp, COOKIE, SECRET, expressOf } from './harness.js';

const AUTH = { client_id: 'app-one', response_type: 'code', scope: 'openid profile', redirect_uri: 'https://one.example/cb' };
const AUTH2 = { client_id: 'app-two', response_type: 'code', scope: 'openid', redirect_uri: 'https://two.example/cb' };

forEachConfiguration('oidcSessions middleware', (cfg, ctx) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildApp(cfg, ctx.redis);
  });
  afterEach(async () => t.close());

  it('leaves an anonymous browser anonymous: no user, no cookie', async () => {
    const res = await t.agent().get('/whoami').expect(200);
    assert.deepEqual(res.body, { userId: null, browserSessionId: null, authnEvent: null, clients: [] });
    assert.deepEqual(setCookie(res), []);
  });

  it('login records the authentication event, links the browser to the user node and sets a new cookie', async () => {
    const agent = t.agent();
    const login = await agent.post('/login').send({ userId: 'alice', acr: 'urn:acr:pwd', amr: ['pwd'], validFor: 600 }).expect(200);
    assert.ok(sessionIdFrom(login), 'a session cookie is set');
    const me = (await agent.get('/whoami').expect(200)).body;
    assert.equal(me.userId, 'alice');
    assert.equal(me.authnEvent.authnInfo, 'urn:acr:pwd');
    assert.deepEqual(me.authnEvent.amr, ['pwd']);
    assert.equal(me.authnEvent.validUntil - me.authnEvent.authnTime, 600_000);
    const sessions = await t.manager.listUserSessions('alice');
    assert.deepEqual(sessions.browserSessions.map((b) => b.id), [me.browserSessionId]);
  });

  it('login rejects bad input with 400 and logs nobody in', async () => {
    const agent = t.agent();
    const res = await agent.post('/login').send({ userId: '' }).expect(400);
    assert.equal(res.body.error, 'invalid_request');
    await agent.post('/login').send({ userId: 'alice', validFor: -1 }).expect(400);
    await agent.post('/login').send({ userId: 'alice', carry: ['__proto__'] }).expect(400);
    await agent.post('/login').send({ userId: 'alice', carry: ['cookie'] }).expect(400);
    assert.equal((await agent.get('/whoami')).body.userId, null);
    assert.equal((await t.manager.dump()).users.length, 0);
  });

  it('authorize creates a grant linked to this browser session and returns its sid; it reuses it for the same login', async () => {
    const { agent } = await loggedIn(t);
    const a = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    const me = (await agent.get('/whoami')).body;
    assert.equal(a.reused, false);
    assert.equal(a.sid, t.manager.sidFor(me.browserSessionId, 'app-one'));
    const info = await t.manager.getSessionInfo(a.sessionId, { grant: true });
    assert.equal(info.grant!.browserSessionId, me.browserSessionId);
    assert.deepEqual(info.grant!.scope, ['openid', 'profile']);
    assert.equal(info.grant!.authnEvent.authnTime, me.authnEvent.authnTime);

    const again = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    assert.equal(again.reused, true);
    assert.equal(again.grantId, a.grantId);
    assert.equal(again.sid, a.sid, 'sid is stable per (browser session, client)');

    const wider = (await agent.get('/authorize').query({ ...AUTH, scope: 'openid profile email' }).expect(200)).body;
    assert.equal(wider.reused, false, 'a wider scope needs a new grant');

    const two = (await agent.get('/authorize').query(AUTH2).expect(200)).body;
    assert.notEqual(two.sid, a.sid, 'sids differ per client');
    assert.deepEqual((await agent.get('/whoami')).body.clients, ['app-one', 'app-two']);
  });

  it('issues codes bound to the browser session; the token helpers redeem them', async () => {
    const { agent } = await loggedIn(t);
    const a = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    const me = (await agent.get('/whoami')).body;
    const found = await t.manager.getSessionInfoByToken(a.code);
    assert.equal(found.token?.browserSessionId, me.browserSessionId);
    assert.equal(found.token?.codeBinding?.redirectUri, AUTH.redirect_uri);
    const tokens = (await request(t.url).post('/token').send({ code: a.code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(200)).body;
    const intro = (await request(t.url).post('/introspect').send({ token: tokens.access_token }).expect(200)).body;
    assert.equal(intro.active, true);
    assert.equal(intro.sid, a.sid, 'introspection reports the same sid');
    // Redeeming twice is a typed error mapped to invalid_grant, and revokes the grant.
    const again = await request(t.url).post('/token').send({ code: a.code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(400);
    assert.equal(again.body.error, 'invalid_grant');
  });

  it("issueCode refuses another user's grant as unknown (no cross-user access)", async () => {
    const t2 = await buildApp(cfg, ctx.redis, {
      routes: (app) =>
        app.get(
          '/steal',
          h(async (req, res) => {
            const code = await req.oidcSessions.issueCode(String(req.query.sessionId));
            res.json({ stolen: code.value });
          }),
        ),
    });
    try {
      const bob = await loggedIn(t2, 'bob');
      const bobs = (await bob.agent.get('/authorize').query(AUTH).expect(200)).body;
      const alice = await loggedIn(t2, 'alice');
      const res = await alice.agent.get('/steal').query({ sessionId: bobs.sessionId }).expect(404);
      assert.equal(res.body.stolen, undefined);
      assert.equal(res.body.error, 'invalid_request');
      const tampered = await alice.agent.get('/steal').query({ sessionId: bobs.sessionId.slice(0, -2) + 'AA' }).expect(400);
      assert.equal(tampered.body.error, 'invalid_request');
      assert.equal((await t2.manager.listUserSessions('bob')).clients[0]!.grants.length, 1);
    } finally {
      await t2.close();
    }
  });

  it('authorize and issueCode need a login: 401 login_required', async () => {
    const res = await t.agent().get('/authorize').query({ ...AUTH, prompt: 'none' }).expect(400);
    assert.equal(res.body.error, 'login_required');
  });

  it('logout ends this browser session: session-bound tokens die, offline tokens survive, notices name every client', async () => {
    const { agent } = await loggedIn(t);
    const one = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    const two = (await agent.get('/authorize').query({ ...AUTH2, scope: 'openid offline_access' }).expect(200)).body;
    const t1 = (await request(t.url).post('/token').send({ code: one.code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(200)).body;
    const t2 = (await request(t.url).post('/token').send({ code: two.code, client_id: 'app-two', redirect_uri: AUTH2.redirect_uri }).expect(200)).body;
    assert.ok(t2.refresh_token, 'offline_access yields a refresh token');
    const before = sessionIdFrom(await agent.post('/app-data').send({ x: 1 }).expect(200)) ?? undefined;
    void before;

    const out = (await agent.post('/logout').send({}).expect(200)).body;
    assert.equal(out.seen, true);
    const grants = await t.manager.grants({ userId: 'alice' });
    const sub = grants[0]!.sub;
    assert.deepEqual(
      [...out.notices].sort((a: { clientId: string }, b: { clientId: string }) => a.clientId.localeCompare(b.clientId)),
      [
        { clientId: 'app-one', sid: one.sid, sub },
        { clientId: 'app-two', sid: two.sid, sub },
      ],
    );
    assert.equal((await agent.get('/whoami')).body.userId, null);
    const intro = async (token: string) => (await request(t.url).post('/introspect').send({ token }).expect(200)).body.active;
    assert.equal(await intro(t1.access_token), false, 'session-bound access token dies (fault 11)');
    assert.equal(await intro(t2.access_token), true, 'offline access token survives (documented policy)');
    assert.equal(await intro(t2.refresh_token), true, 'offline refresh token survives');
    assert.equal((await agent.post('/logout').send({}).expect(200)).body.seen, false, 'a second logout sees nobody');
  });

  it('a code issued before a logout cannot be redeemed after it, with or without offline_access (this browser or everywhere)', async () => {
    for (const logout of [{}, { everywhere: true }, { everywhere: true, keepOffline: false }]) {
      for (const scope of ['openid', 'openid offline_access']) {
        const { agent } = await loggedIn(t);
        const a = (await agent.get('/authorize').query({ ...AUTH2, scope }).expect(200)).body;
        await agent.post('/logout').send(logout).expect(200);
        const res = await request(t.url).post('/token').send({ code: a.code, client_id: 'app-two', redirect_uri: AUTH2.redirect_uri });
        assert.equal(res.status, 400, `${JSON.stringify(logout)}, scope "${scope}": ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'invalid_grant');
      }
    }
  });

  it('logout destroys the old express-session record', async () => {
    const { agent, res } = await loggedIn(t);
    const id = sessionIdFrom(res)!;
    assert.ok(await t.storedSession(id));
    await agent.post('/logout').send({}).expect(200);
    assert.equal(await t.storedSession(id), null);
  });

  it('logout({keepOffline: false}) also revokes the grants of this browser session', async () => {
    const { agent } = await loggedIn(t);
    const two = (await agent.get('/authorize').query({ ...AUTH2, scope: 'openid offline_access' }).expect(200)).body;
    const tok = (await request(t.url).post('/token').send({ code: two.code, client_id: 'app-two', redirect_uri: AUTH2.redirect_uri }).expect(200)).body;
    await agent.post('/logout').send({ keepOffline: false }).expect(200);
    assert.equal((await request(t.url).post('/introspect').send({ token: tok.refresh_token })).body.active, false);
  });

  it('logout({everywhere}) reaches every browser of the user and names each (browser, client) sid', async () => {
    const a = await loggedIn(t);
    const b = await loggedIn(t);
    const ga = (await a.agent.get('/authorize').query(AUTH).expect(200)).body;
    const gb = (await b.agent.get('/authorize').query(AUTH).expect(200)).body;
    const tb = (await request(t.url).post('/token').send({ code: gb.code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(200)).body;
    const out = (await a.agent.post('/logout').send({ everywhere: true }).expect(200)).body;
    const sids = new Set(out.notices.map((n: { sid: string }) => n.sid));
    assert.ok(sids.has(ga.sid) && sids.has(gb.sid), 'both browsers\u2019 sids are notified');
    assert.equal((await b.agent.get('/whoami')).body.userId, null, 'the other browser is logged out at its next request');
    assert.equal((await request(t.url).post('/introspect').send({ token: tb.access_token })).body.active, false);
  });

  it('listSessions lists the current user\u2019s clients, grants and browser sessions; undefined when anonymous', async () => {
    const { agent } = await loggedIn(t);
    await agent.get('/authorize').query(AUTH).expect(200);
    const list = (await agent.get('/sessions').expect(200)).body;
    assert.equal(list.userId, 'alice');
    assert.equal(list.clients.length, 1);
    assert.equal(list.clients[0].grants[0].active, true);
    assert.equal(list.browserSessions.length, 1);
    assert.equal((await t.agent().get('/sessions').expect(200)).body, null);
  });

  it('step-up login rotates the cookie id but keeps the browser session, its sids and its tokens', async () => {
    const { agent, res } = await loggedIn(t, 'alice', { acr: 'urn:acr:pwd' });
    const first = sessionIdFrom(res)!;
    const a = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    const tok = (await request(t.url).post('/token').send({ code: a.code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(200)).body;
    const me1 = (await agent.get('/whoami')).body;
    t.clock.advance(1000);
    const up = await agent.post('/login').send({ userId: 'alice', acr: 'urn:acr:mfa', amr: ['pwd', 'otp'] }).expect(200);
    const second = sessionIdFrom(up)!;
    assert.notEqual(second, first);
    assert.equal(await t.storedSession(first), null, 'the pre-step-up record is destroyed');
    const me2 = (await agent.get('/whoami')).body;
    assert.equal(me2.browserSessionId, me1.browserSessionId);
    assert.equal(me2.authnEvent.authnInfo, 'urn:acr:mfa');
    assert.deepEqual(me2.clients, ['app-one']);
    const b = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    assert.equal(b.sid, a.sid);
    assert.equal(b.reused, false, 'a grant of the earlier login is not reused: its auth_time and acr are stale');
    assert.equal((await request(t.url).post('/introspect').send({ token: tok.access_token })).body.active, true);
  });

  it('logging in as another user ends the previous user\u2019s browser session and returns its notices', async () => {
    const { agent } = await loggedIn(t, 'alice');
    const a = (await agent.get('/authorize').query(AUTH).expect(200)).body;
    const tok = (await request(t.url).post('/token').send({ code: a.code, client_id: 'app-one', redirect_uri: AUTH.redirect_uri }).expect(200)).body;
    const sw = (await agent.post('/login').send({ userId: 'bob' }).expect(200)).body;
    assert.deepEqual(sw.notices.map((n: { clientId: string; sid: string }) => [n.clientId, n.sid]), [['app-one', a.sid]]);
    assert.equal((await agent.get('/whoami')).body.userId, 'bob');
    assert.deepEqual((await agent.get('/whoami')).body.clients, []);
    assert.equal((await request(t.url).post('/introspect').send({ token: tok.access_token })).body.active, false);
  });

  it('carries only the named keys of the pre-login session', async () => {
    const agent = t.agent();
    await agent.get('/authorize').query(AUTH).expect(200); // stores `pending`
    await agent.post('/app-data').send({ planted: 'by-someone' }).expect(200);
    const res = await agent.post('/login').send({ userId: 'alice', carry: ['pending', 'absent'] }).expect(200);
    assert.deepEqual(res.body.session.sort(), ['oidc', 'pending']);
    const stored = await t.storedSession(sessionIdFrom(res)!);
    assert.deepEqual(stored!.pending, AUTH);
    assert.equal(stored!.planted, undefined);
  });

  it('a custom sessionKey is the only key it writes', async () => {
    const t2 = await buildApp(cfg, ctx.redis, { middleware: { sessionKey: 'op' } });
    try {
      const { res } = await loggedIn(t2);
      const stored = await t2.storedSession(sessionIdFrom(res)!);
      assert.deepEqual(Object.keys(stored!).filter((k) => k !== 'cookie'), ['op']);
    } finally {
      await t2.close();
    }
  });

  it('fails with a clear message when express-session is not mounted before it', async () => {
    for (const order of ['missing', 'after'] as const) {
      const logged: string[] = [];
      const app = expressOf(cfg.flavour)();
      const manager = new SessionManager({ secrets: SECRETS, logger: { warn: () => {} } });
      app.use(oidcSessions({ manager }));
      if (order === 'after') app.use(session({ name: COOKIE, secret: SECRET, resave: false, saveUninitialized: false }));
      app.get('/', (_req, res) => res.send('never'));
      app.use(oidcSessionsErrorHandler({ log: (m) => logged.push(m) }));
      const res = await request(app).get('/').expect(500);
      assert.deepEqual(res.body, { error: 'server_error' });
      assert.match(logged.join('\n'), /mount express-session before oidcSessions\(\)/);
    }
  });

  it('mounted twice, it acts once', async () => {
    const app = expressOf(cfg.flavour)();
    app.use(session({ name: COOKIE, secret: SECRET, resave: false, saveUninitialized: false }));
    const mw = oidcSessions({ manager: t.manager });
    app.use(mw);
    let first: unknown;
    app.use((req, _res, next) => {
      first = req.oidcSessions;
      next();
    });
    app.use(mw);
    app.get('/', (req, res) => res.json({ same: req.oidcSessions === first }));
    assert.equal((await request(app).get('/').expect(200)).body.same, true);
  });

  it('cookiePair replays a cookie into another jar (harness check)', async () => {
    const { res } = await loggedIn(t);
    const pair = cookiePair(res)!;
    const other = await request(t.url).get('/whoami').set('Cookie', pair).expect(200);
    assert.equal(other.body.userId, 'alice');
  });
});

describe('oidcSessions options', function () {
  const manager = new SessionManager({ secrets: SECRETS, logger: { warn: () => {} } });
  it('are checked synchronously', function () {
    assert.throws(() => oidcSessions(undefined as never), Misconfigured);
    assert.throws(() => oidcSessions({} as never), /options.manager must be a SessionManager/);
    assert.throws(() => oidcSessions({ manager: {} as never }), Misconfigured);
    for (const sessionKey of ['__proto__', 'cookie', 'constructor', '', 'x'.repeat(65)]) {
      assert.throws(() => oidcSessions({ manager, sessionKey }), Misconfigured, sessionKey);
    }
    assert.throws(() => oidcSessions({ manager, loginLifetime: 0 }));
    assert.throws(() => oidcSessions({ manager, loginLifetime: Number.NaN }));
    assert.throws(() => oidcSessions({ manager, cookie: { sameSite: 'none', secure: false } }), /SameSite=None without Secure/);
    assert.equal(typeof oidcSessions({ manager, cookie: { sameSite: 'none', secure: true } }), 'function');
    void express;
  });
});
