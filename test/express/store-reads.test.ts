/**
 * The cost of the sync check, counted (not timed): a logged-in request reads the tree once
 * (manager.isBrowserSessionLive → getUser) and an anonymous one not at all; the middleware adds
 * no call to the session store for a request that changes nothing. Counting wrappers around the
 * real stores observe the calls; the stores do the work.
 */
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/index.js';
import { buildApp, forEachConfiguration, loggedIn, type TestApp } from './harness.js';
import { CallCounter, SESSION_METHODS, TREE_METHODS } from './instrumented-stores.js';

forEachConfiguration('store calls per request', (cfg, ctx) => {
  const tree = new CallCounter();
  const sessions = new CallCounter();
  let t: TestApp;
  beforeEach(async () => {
    t = await buildApp(cfg, ctx.redis, {
      treeStore: tree.wrap(new MemoryStore(), TREE_METHODS),
      wrapSessionStore: (s) => sessions.wrap(s, SESSION_METHODS, true),
    });
  });
  afterEach(async () => t.close());

  it('anonymous browser: no tree read, and no session-store call beyond express-session\u2019s own', async () => {
    const agent = t.agent();
    tree.reset();
    sessions.reset();
    await agent.get('/whoami').expect(200);
    assert.deepEqual(tree.snapshot(), {});
    assert.deepEqual(sessions.snapshot(), {}, 'no cookie, nothing to load or save');
  });

  it('anonymous browser with a session (pending request): no tree read', async () => {
    const agent = t.agent();
    await agent.get('/authorize').query({ client_id: 'c', response_type: 'code' }).expect(200);
    tree.reset();
    sessions.reset();
    await agent.get('/whoami').expect(200);
    assert.deepEqual(tree.snapshot(), {});
    assert.deepEqual(sessions.snapshot(), { get: 1, touch: 1 }, 'express-session loads and touches; nothing more');
  });

  it('logged-in browser: exactly one tree read; the session store sees only express-session\u2019s get and touch', async () => {
    const { agent } = await loggedIn(t);
    await agent.get('/authorize').query({ client_id: 'c', response_type: 'code', scope: 'openid' }).expect(200);
    for (let i = 0; i < 3; i++) {
      tree.reset();
      sessions.reset();
      await agent.get('/whoami').expect(200);
      assert.deepEqual(tree.snapshot(), { getUser: 1 });
      assert.deepEqual(sessions.snapshot(), { get: 1, touch: 1 });
    }
  });

  it('a logged-out-everywhere browser: one tree read, then its record is destroyed', async () => {
    const { agent } = await loggedIn(t);
    await t.manager.logoutUser('alice', { keepOffline: true });
    tree.reset();
    sessions.reset();
    assert.equal((await agent.get('/whoami').expect(200)).body.userId, null);
    assert.deepEqual(tree.snapshot(), { getUser: 1 });
    // Loaded, destroyed, and a fresh empty session saved in its place (express-session saves a
    // regenerated session); nothing of the old login is written anywhere.
    assert.deepEqual(sessions.snapshot(), { destroy: 1, get: 1, set: 1 });
  });

  it('an expired login costs no tree read at all', async () => {
    const { agent } = await loggedIn(t, 'alice', { validFor: 10 });
    t.clock.advance(11_000);
    tree.reset();
    await agent.get('/whoami').expect(200);
    assert.deepEqual(tree.snapshot(), {});
  });

  it('a save of a logged-in session re-reads the stored record once (the merge), under the lock', async () => {
    const { agent } = await loggedIn(t);
    sessions.reset();
    await agent.get('/authorize').query({ client_id: 'c', response_type: 'code', scope: 'openid' }).expect(200);
    assert.deepEqual(sessions.snapshot(), { get: 2, set: 1 });
  });
});
