/**
 * Cookie policy (SPEC §7): HttpOnly, SameSite=Lax and Secure on HTTPS by default, read from the
 * Set-Cookie headers of real responses, in every configuration.
 */
import assert from 'node:assert/strict';
import { checkCookiePolicy, Misconfigured, sessionCookie } from '../../src/index.js';
import { buildApp, COOKIE, forEachConfiguration, setCookie } from './harness.js';

describe('sessionCookie()', function () {
  it('defaults to httpOnly, SameSite=Lax, secure auto, path /', function () {
    assert.deepEqual(sessionCookie(), { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' });
  });
  it('keeps overrides and checks them', function () {
    assert.deepEqual(sessionCookie({ maxAge: 1000, sameSite: 'strict' }), { path: '/', httpOnly: true, sameSite: 'strict', secure: 'auto', maxAge: 1000 });
    assert.equal(sessionCookie({ sameSite: 'none', secure: true }).sameSite, 'none');
    assert.throws(() => sessionCookie({ sameSite: 'none' }), Misconfigured);
    assert.throws(() => sessionCookie({ httpOnly: false }), /httpOnly/);
    assert.throws(() => checkCookiePolicy({ sameSite: 'None' as 'none', secure: false }), Misconfigured, 'case-insensitive');
  });
});

forEachConfiguration('session cookie on the wire', (cfg, ctx) => {
  it('HTTP: HttpOnly; SameSite=Lax; Path=/; no Secure', async () => {
    const t = await buildApp(cfg, ctx.redis, { session: { cookie: sessionCookie() } });
    try {
      const cookies = setCookie(await t.agent().post('/login').send({ userId: 'alice' }).expect(200));
      assert.equal(cookies.length, 1);
      const c = cookies[0]!;
      assert.ok(c.startsWith(`${COOKIE}=`));
      assert.match(c, /; HttpOnly/);
      assert.match(c, /; SameSite=Lax/);
      assert.match(c, /; Path=\//);
      assert.doesNotMatch(c, /Secure/);
    } finally {
      await t.close();
    }
  });

  it('behind a TLS-terminating proxy (trust proxy, X-Forwarded-Proto: https): Secure', async () => {
    const t = await buildApp(cfg, ctx.redis, { trustProxy: true, session: { cookie: sessionCookie() } });
    try {
      const c = setCookie(await t.agent().post('/login').set('X-Forwarded-Proto', 'https').send({ userId: 'alice' }).expect(200))[0]!;
      assert.match(c, /; Secure/);
      assert.match(c, /; HttpOnly/);
      assert.match(c, /; SameSite=Lax/);
    } finally {
      await t.close();
    }
  });

  it('a forged X-Forwarded-Proto is ignored without trust proxy', async () => {
    const t = await buildApp(cfg, ctx.redis, { session: { cookie: sessionCookie() } });
    try {
      const c = setCookie(await t.agent().post('/login').set('X-Forwarded-Proto', 'https').send({ userId: 'alice' }).expect(200))[0]!;
      assert.doesNotMatch(c, /Secure/);
    } finally {
      await t.close();
    }
  });

  it('an anonymous visit sets no cookie at all', async () => {
    const t = await buildApp(cfg, ctx.redis);
    try {
      for (const path of ['/whoami', '/sessions']) assert.deepEqual(setCookie(await t.agent().get(path).expect(200)), []);
    } finally {
      await t.close();
    }
  });
});
