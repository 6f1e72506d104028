/**
 * The sync rules of SPEC §7 between the browser's express session and the tree, in every
 * configuration: logout everywhere reaches other browsers, an expired login or a vanished tree
 * node logs the browser out, a revoked grant is never resurrected, concurrent requests of one
 * browser do not lose each other's changes, and a slow request cannot undo a logout.
 */
import assert from 'node:assert/strict';
import request from 'supertest';
import { buildApp, forEachConfiguration, loggedIn, sessionIdFrom, start, type TestApp } from './harness.js';

const AUTH = { client_id: 'app-one', response_type: 'code', scope: 'openid', redirect_uri: 'https://one.example/cb' };
const AUTH2 = { client_id: 'app-two', response_type: 'code', scope: 'openid', redirect_uri: 'https://two.example/cb' };

forEachConfiguration('sync rules (SPEC §7)', (cfg, ctx) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await buildApp(cfg, ctx.redis);
  });
  afterEach(async () => t.close());

  const whoami = async (agent: ReturnType<TestApp['agent']>) => (await agent.get('/whoami').expect(200)).body.userId as string | null;
  const token = async (code: string, a = AUTH) =>
    (await request(t.url).post('/token').send({ code, client_id: a.client_id, redirect_uri: a.redirect_uri }).expect(200)).body;
  const active = async (tok: string) => (await request(t.url).post('/introspect').send({ token: tok }).expect(200)).body.active as boolean;

  describe('logged out everywhere', () => {
    it('every other browser is logged out at its next request, and its old record is destroyed', async () => {
      const a = await loggedIn(t);
      const b = await loggedIn(t);
      const c = await loggedIn(t, 'bob');
      const bId = sessionIdFrom(b.res)!;
      await a.agent.post('/logout').send({ everywhere: true }).expect(200);
      assert.equal(await whoami(b.agent), null);
      assert.equal(await t.storedSession(bId), null);
      assert.equal(await whoami(c.agent), 'bob', 'another user is untouched');
    });

    it('an administrative manager.logoutUser() logs every browser out too', async () => {
      const a = await loggedIn(t);
      const b = await loggedIn(t);
      assert.equal(await whoami(a.agent), 'alice');
      await t.manager.logoutUser('alice', { keepOffline: true });
      assert.equal(await whoami(a.agent), null);
      assert.equal(await whoami(b.agent), null);
    });

    it('a new login after a logout everywhere works (new epoch)', async () => {
      const a = await loggedIn(t);
      await a.agent.post('/logout').send({ everywhere: true }).expect(200);
      await a.agent.post('/login').send({ userId: 'alice' }).expect(200);
      assert.equal(await whoami(a.agent), 'alice');
      assert.equal(await whoami(a.agent), 'alice');
    });
  });

  describe('expired authentication event', () => {
    it('logs the browser out and destroys its record; its session-bound tokens are inactive', async () => {
      const { agent, res } = await loggedIn(t, 'alice', { validFor: 60 });
      const code = (await agent.get('/authorize').query(AUTH).expect(200)).body.code;
      const tok = await token(code);
      t.clock.advance(59_000);
      assert.equal(await whoami(agent), 'alice');
      t.clock.advance(1_000);
      assert.equal(await whoami(agent), null);
      assert.equal(await t.storedSession(sessionIdFrom(res)!), null);
      assert.equal(await active(tok.access_token), false);
    });
  });

  describe('tree node gone', () => {
    it('a removed user node logs the browser out', async () => {
      const { agent } = await loggedIn(t);
      await agent.get('/authorize').query(AUTH).expect(200);
      await t.manager.removeSession(t.manager.sessionIdOf({ userId: 'alice' }));
      assert.equal(await whoami(agent), null);
    });

    it('a malformed oidc part (foreign writer, old version) is treated as logged out', async () => {
      const { agent } = await loggedIn(t);
      await agent.post('/app-data').send({ oidc: { v: 1, userId: 'mallory', browserSessionId: 'x', authnEvent: {}, clients: [] } }).expect(200);
      assert.equal(await whoami(agent), null);
    });
  });

  describe('a grant revoked in the tree is never resurrected (fault 9)', () => {
    it('refresh-token reuse revokes the grant; the same browser gets consent_required, then a new grant', async () => {
      const { agent } = await loggedIn(t);
      const first = (await agent.get('/authorize').query({ ...AUTH, scope: 'openid offline_access' }).expect(200)).body;
      const tok = await token(first.code);
      await request(t.url).post('/refresh').send({ refresh_token: tok.refresh_token, client_id: 'app-one' }).expect(200);
      t.clock.advance(10_000); // beyond the grace window
      const reuse = await request(t.url).post('/refresh').send({ refresh_token: tok.refresh_token, client_id: 'app-one' }).expect(400);
      assert.equal(reuse.body.error, 'invalid_grant');

      const silent = await agent.get('/authorize').query({ ...AUTH, scope: 'openid offline_access', prompt: 'none' }).expect(400);
      assert.equal(silent.body.error, 'consent_required');
      const again = (await agent.get('/authorize').query({ ...AUTH, scope: 'openid offline_access' }).expect(200)).body;
      assert.notEqual(again.grantId, first.grantId);
      assert.equal(again.reused, false);
      assert.equal(again.sid, first.sid, 'the sid of (browser session, client) may stay');
      const grants = (await agent.get('/sessions').expect(200)).body.clients[0].grants as Array<{ grant: { id: string }; active: boolean }>;
      assert.equal(grants.find((g) => g.grant.id === first.grantId), undefined, 'the revoked grant is not listed (fault 9)');
      assert.deepEqual(grants.filter((g) => g.active).map((g) => g.grant.id), [again.grantId]);
    });

    it('a grant revoked by the app is not reused by authorize', async () => {
      const { agent } = await loggedIn(t);
      const first = (await agent.get('/authorize').query(AUTH).expect(200)).body;
      await t.manager.revokeGrant(first.sessionId);
      const again = (await agent.get('/authorize').query(AUTH).expect(200)).body;
      assert.notEqual(again.grantId, first.grantId);
      await t.manager.revokeClientSession(t.manager.sessionIdOf({ userId: 'alice', clientId: 'app-one' }));
      const third = (await agent.get('/authorize').query(AUTH).expect(200)).body;
      assert.notEqual(third.grantId, again.grantId);
      const tok = await token(third.code);
      assert.equal(await active(tok.access_token), true);
    });
  });

  describe('concurrent requests of one browser session', () => {
    it('two authorizations for different clients at once both persist', async () => {
      const { agent } = await loggedIn(t);
      // Both requests load the session and pass the check, then wait at their gates; only then
      // do they authorize and save. Each saves a session that lacks the other's client unless
      // the save merges.
      const one = start(agent.get('/authorize').query({ ...AUTH, gate: 'one' }).expect(200));
      const two = start(agent.get('/authorize').query({ ...AUTH2, gate: 'two' }).expect(200));
      await Promise.all([t.gates.arrived('one'), t.gates.arrived('two')]);
      t.gates.open('one');
      t.gates.open('two');
      const [r1, r2] = await Promise.all([one, two]);
      const me = (await agent.get('/whoami').expect(200)).body;
      assert.deepEqual([...me.clients].sort(), ['app-one', 'app-two']);
      const linked = (await t.manager.grants({ userId: 'alice' })).filter((g) => g.browserSessionId === me.browserSessionId);
      assert.deepEqual(linked.map((g) => g.clientId).sort(), ['app-one', 'app-two']);
      const out = (await agent.post('/logout').send({}).expect(200)).body;
      assert.deepEqual(out.notices.map((n: { sid: string }) => n.sid).sort(), [r1.body.sid, r2.body.sid].sort());
    });

    it('a slow request that changes app data does not drop a client authorized meanwhile', async () => {
      const { agent } = await loggedIn(t);
      const slow = start(agent.get('/slow').query({ gate: 'slow' }).expect(200));
      await t.gates.arrived('slow');
      await agent.get('/authorize').query(AUTH).expect(200);
      t.gates.open('slow');
      await slow;
      const me = (await agent.get('/whoami').expect(200)).body;
      assert.deepEqual(me.clients, ['app-one']);
    });

    it('many parallel authorizations of one browser all persist', async () => {
      const { agent } = await loggedIn(t);
      const ids = Array.from({ length: 8 }, (_, i) => `client-${i}`);
      const all = ids.map((id) => start(agent.get('/authorize').query({ ...AUTH, client_id: id, gate: id }).expect(200)));
      await Promise.all(ids.map((id) => t.gates.arrived(id)));
      for (const id of ids) t.gates.open(id);
      await Promise.all(all);
      assert.deepEqual([...(await agent.get('/whoami')).body.clients].sort(), ids);
    });
  });

  describe('a slow request that finishes after a logout', () => {
    it('does not log the user back in, nor recreate the destroyed record', async () => {
      const { agent, res } = await loggedIn(t);
      const id = sessionIdFrom(res)!;
      const slow = start(agent.get('/slow').query({ gate: 'slow' }).expect(200));
      await t.gates.arrived('slow');
      await agent.post('/logout').send({}).expect(200);
      t.gates.open('slow');
      assert.equal((await slow).body.before, 'alice', 'the slow request started logged in');
      assert.equal(await t.storedSession(id), null, 'its save did not resurrect the record');
      assert.equal(await whoami(agent), null);
    });

    it('an authorization that outlives the logout fails with login_required and leaves no usable grant', async () => {
      const { agent } = await loggedIn(t);
      const slow = start(agent.get('/authorize').query({ ...AUTH, gate: 'authz' }));
      await t.gates.arrived('authz');
      await agent.post('/logout').send({}).expect(200);
      t.gates.open('authz');
      const res = await slow;
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'login_required');
      assert.equal(res.body.code, undefined);
      const grants = await t.manager.grants({ userId: 'alice' });
      assert.ok(grants.length > 0 && grants.every((g) => g.revoked), 'the grant created after the logout is revoked');
      assert.equal(await whoami(agent), null);
    });

    it('an authorization that outlives a logout everywhere (another browser) fails too', async () => {
      const a = await loggedIn(t);
      const b = await loggedIn(t);
      const slow = start(a.agent.get('/authorize').query({ ...AUTH, scope: 'openid offline_access', gate: 'authz' }));
      await t.gates.arrived('authz');
      await b.agent.post('/logout').send({ everywhere: true }).expect(200);
      t.gates.open('authz');
      assert.equal((await slow).status, 401);
      assert.equal(await whoami(a.agent), null);
    });
  });
});
