import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import request from 'supertest';
import { SessionManager } from '../../src/index.js';
import { createMinimalApp } from '../../examples/minimal/app.js';
import { freePort } from '../helpers/redis-server.js';
import { runOnTakenPort } from './helpers/taken-port.js';

const secrets = { sessionIdKeys: [{ kid: 'k', key: randomBytes(32) }], subjectSalt: randomBytes(32) };
const REDIRECT = 'http://localhost:3001/cb';

describe('examples/minimal', () => {
  it('login, a grant with a code, a token, a protected resource, logout', async () => {
    const manager = new SessionManager({ secrets });
    const browser = request.agent(createMinimalApp(manager));

    const anonymous = await browser.get(`/authorize?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error, 'login_required');

    const login = await browser.post('/login').type('form').send({ username: 'alice' });
    assert.equal(login.status, 200);
    assert.equal(login.body.userId, 'alice');
    const cookie = login.headers['set-cookie']?.[0] ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);

    // Bad input is a 400, never a 500 (no body at all under Express 5) and never an open redirect.
    assert.equal((await browser.post('/login')).status, 400);
    assert.equal((await browser.post('/token')).status, 400);
    const evil = await browser.get(`/authorize?redirect_uri=${encodeURIComponent('https://evil.example/x')}`);
    assert.equal(evil.status, 400);
    assert.equal(evil.headers.location, undefined);

    const authorized = await browser.get(`/authorize?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    assert.equal(authorized.status, 303);
    const location = new URL(authorized.headers.location!);
    const code = location.searchParams.get('code')!;
    assert.ok(code);
    const sid = authorized.headers['x-sid'];

    const tokens = await browser.post('/token').type('form').send({ code, redirect_uri: REDIRECT });
    assert.equal(tokens.status, 200);
    const at = tokens.body.access_token as string;
    assert.equal(tokens.body.token_type, 'Bearer');

    const reused = await browser.post('/token').type('form').send({ code, redirect_uri: REDIRECT });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error, 'invalid_grant');
    // The reuse revoked the grant (default policy): the first token is dead, so get a new one.
    assert.equal((await browser.get('/me').set('authorization', `Bearer ${at}`)).status, 401);
    const again = await browser.get(`/authorize?redirect_uri=${encodeURIComponent(REDIRECT)}`);
    const code2 = new URL(again.headers.location!).searchParams.get('code')!;
    const at2 = (await browser.post('/token').type('form').send({ code: code2, redirect_uri: REDIRECT })).body.access_token as string;

    const me = await browser.get('/me').set('authorization', `Bearer ${at2}`);
    assert.equal(me.status, 200);
    assert.equal(me.body.userId, 'alice');
    assert.deepEqual(me.body.scope, ['openid']);

    const logout = await browser.post('/logout');
    assert.equal(logout.status, 200);
    assert.deepEqual(logout.body.notify, [{ clientId: 'demo', sub: me.body.sub, sid }]);
    assert.equal((await browser.get('/me').set('authorization', `Bearer ${at2}`)).status, 401, 'logout killed the token');
    assert.equal((await browser.get(`/authorize?redirect_uri=${encodeURIComponent(REDIRECT)}`)).status, 401, 'logged out');
  });

  it('npm run start:minimal serves the app', async function () {
    this.timeout(20_000);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/minimal/app.ts'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no start: ${out}`)), 15_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes(`http://localhost:${port}`)) {
            clearTimeout(t);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (c) => reject(new Error(`exited ${c}: ${out}`)));
      });
      const res = await fetch(`http://127.0.0.1:${port}/login`, { method: 'POST', body: new URLSearchParams({ username: 'bob' }) });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { userId: 'bob' });
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('npm run start:minimal on a taken port: a clear error, exit code 1, no "minimal example on" line', async function () {
    this.timeout(30_000);
    const r = await runOnTakenPort('examples/minimal/app.ts');
    assert.equal(r.code, 1, `exit code (stdout: ${r.stdout} stderr: ${r.stderr})`);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${r.port}: EADDRINUSE`));
    assert.doesNotMatch(r.stdout, /minimal example on/);
  });
});
