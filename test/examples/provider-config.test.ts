import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { ClientConfigError, parseClients } from '../../examples/provider/clients.js';
import { ConfigError, readEnv } from '../../examples/provider/config.js';
import { generateKeys, KeysConfigError, loadKeys } from '../../examples/provider/keys.js';
import { parseUsers, UserConfigError } from '../../examples/provider/users.js';
import { escapeHtml } from '../../examples/provider/html.js';
import { freePort } from '../helpers/redis-server.js';
import { runOnTakenPort } from './helpers/taken-port.js';

describe('examples/provider configuration', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'op-config-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('environment defaults: PORT 3000, ISSUER http://localhost:$PORT, the shipped clients and users', () => {
    const d = readEnv({});
    assert.equal(d.port, 3000);
    assert.equal(d.issuer, 'http://localhost:3000');
    assert.equal(d.redisUrl, undefined);
    assert.match(d.clientsFile, /examples\/provider\/clients\.json$/);
    assert.match(d.usersFile, /examples\/provider\/users\.json$/);
    assert.match(d.keysFile, /examples\/provider\/\.keys\.json$/);
    const e = readEnv({ PORT: '8080', REDIS_URL: 'redis://127.0.0.1:6390', ISSUER: 'https://op.example/', TRUST_PROXY: '1' });
    assert.equal(e.issuer, 'https://op.example');
    assert.equal(e.redisUrl, 'redis://127.0.0.1:6390');
    assert.equal(e.trustProxy, 1);
    assert.equal(readEnv({ PORT: '8080' }).issuer, 'http://localhost:8080');
    assert.throws(() => readEnv({ PORT: 'eighty' }), ConfigError);
    assert.throws(() => readEnv({ ISSUER: 'ftp://x' }), ConfigError);
    assert.throws(() => readEnv({ ISSUER: 'https://x/?a=b' }), ConfigError);
  });

  it('the shipped clients.json and users.json are valid: a demo client and two demo users', () => {
    const clients = parseClients(JSON.parse(readFileSync('examples/provider/clients.json', 'utf8')));
    assert.ok(clients.some((c) => c.client_id === 'demo-app' && c.token_endpoint_auth_method === 'client_secret_basic'));
    const users = parseUsers(JSON.parse(readFileSync('examples/provider/users.json', 'utf8')));
    assert.deepEqual(users.map((u) => u.username), ['alice', 'bob']);
  });

  it("the README's demo-client table matches clients.json (ids, secrets, redirect and post-logout URIs, back-channel URI)", () => {
    const readme = readFileSync('examples/provider/README.md', 'utf8');
    const rows = new Map(
      [...readme.matchAll(/^\| `([^`]+)` \|(.*)\|$/gm)].map((m) => [m[1]!, m[2]!.split(' | ').map((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((x) => x[1]!))]),
    );
    const clients = parseClients(JSON.parse(readFileSync('examples/provider/clients.json', 'utf8')));
    for (const c of clients) {
      const row = rows.get(c.client_id);
      assert.ok(row, `no README row for ${c.client_id}`);
      const [kind, secret, redirects, postLogout] = row;
      assert.deepEqual(secret, c.client_secret === undefined ? [] : [c.client_secret], `${c.client_id} secret`);
      assert.deepEqual(redirects, c.redirect_uris, `${c.client_id} redirect URIs`);
      assert.deepEqual(postLogout, c.post_logout_redirect_uris, `${c.client_id} post-logout redirect URIs`);
      if (c.backchannel_logout_uri !== undefined) assert.ok(kind!.includes(c.backchannel_logout_uri), `${c.client_id} back-channel URI`);
    }
  });

  it('client registrations are validated with clear messages', () => {
    const ok = { client_id: 'a', client_secret: 's'.repeat(16), redirect_uris: ['https://a.example/cb'] };
    const c = parseClients([ok])[0]!;
    assert.equal(c.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(c.grant_types, ['authorization_code']);
    assert.equal(c.subject_type, 'public');
    assert.equal(c.backchannel_logout_session_required, false);
    const bad: Array<[unknown, RegExp]> = [
      [{}, /array/],
      [[{ ...ok, client_secret: 'short' }], /client_secret of at least 16/],
      [[{ ...ok, token_endpoint_auth_method: 'none' }], /public client .* has no client_secret/],
      [[{ ...ok, redirect_uris: [] }], /redirect_uris must not be empty/],
      [[{ ...ok, redirect_uris: ['/relative'] }], /absolute URI/],
      [[{ ...ok, redirect_uris: ['https://a.example/cb#frag'] }], /fragment/],
      [[{ ...ok, grant_types: ['implicit'] }], /not supported/],
      [[{ ...ok, response_types: ['token'] }], /not supported/],
      [[{ ...ok, subject_type: 'pairwise', redirect_uris: ['https://a.example/cb', 'https://b.example/cb'] }], /sector_identifier_uri/],
      [[{ ...ok, backchannel_logout_session_required: 'yes' }], /boolean/],
      [[ok, ok], /registered twice/],
      [[{ ...ok, client_id: 42 }], /client_id/],
    ];
    for (const [input, message] of bad) assert.throws(() => parseClients(input), (e: Error) => e instanceof ClientConfigError && message.test(e.message));
    // Prototype-named ids are plain ids.
    assert.equal(parseClients([{ ...ok, client_id: '__proto__' }])[0]!.client_id, '__proto__');
  });

  it('users are validated; sub cannot be configured', () => {
    assert.throws(() => parseUsers({}), UserConfigError);
    assert.throws(() => parseUsers([{ username: 'a', password: 'p', claims: { sub: 'x' } }]), /must not set sub/);
    assert.throws(() => parseUsers([{ username: 'a', password: 'p' }, { username: 'a', password: 'q' }]), /twice/);
    assert.throws(() => parseUsers([{ username: '', password: 'p' }]), UserConfigError);
  });

  it('secrets are generated once into a private keys file, reused, and overridable by environment', async () => {
    const file = join(dir, 'keys.json');
    const messages: string[] = [];
    const first = await loadKeys(file, {}, (m) => messages.push(m));
    assert.equal(messages.length, 1);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = await loadKeys(file, {});
    assert.deepEqual(again, first, 'stable across restarts');
    assert.equal(first.signingKey.alg, 'ES256');
    assert.equal(first.signingKey.crv, 'P-256');
    const fresh = await generateKeys();
    const env = {
      SESSION_ID_KEYS: `new:${fresh.sessionIdKeys[0]!.key},old:${first.sessionIdKeys[0]!.key}`,
      SUBJECT_SALT: fresh.subjectSalt,
      COOKIE_SECRETS: fresh.cookieSecrets.join(','),
      SIGNING_KEY: JSON.stringify(fresh.signingKey),
    };
    const fromEnv = await loadKeys(join(dir, 'never-written.json'), env);
    assert.deepEqual(fromEnv.sessionIdKeys.map((k) => k.kid), ['new', 'old']);
    assert.equal(fromEnv.subjectSalt, fresh.subjectSalt);
    assert.throws(() => statSync(join(dir, 'never-written.json')), /ENOENT/, 'no file when the environment gives everything');
    await assert.rejects(loadKeys(file, { SUBJECT_SALT: 'short' }), KeysConfigError);
    await assert.rejects(loadKeys(file, { SIGNING_KEY: '{"kty":"RSA"}' }), KeysConfigError);
    writeFileSync(join(dir, 'broken.json'), '{');
    await assert.rejects(loadKeys(join(dir, 'broken.json'), {}), KeysConfigError);
  });

  it('escapeHtml escapes every character that could open markup or an attribute', () => {
    assert.equal(escapeHtml(`<a href="x" onclick='y'>&\``), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;');
  });

  it('npm start runs the provider from the environment; openid-client discovers it', async function () {
    this.timeout(30_000);
    const port = await freePort();
    const keysFile = join(dir, 'keys.json');
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/provider/server.ts'], {
      env: { ...process.env, PORT: String(port), ISSUER: `http://127.0.0.1:${port}`, KEYS_FILE: keysFile, REDIS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`did not start: ${out}`)), 20_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes(' · users: ')) {
            clearTimeout(t);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
      });
      const config = await oidc.discovery(new URL(`http://127.0.0.1:${port}`), 'demo-app', undefined, oidc.ClientSecretBasic('demo-app-secret-change-me-0123456789'), {
        execute: [oidc.allowInsecureRequests],
      });
      assert.equal(config.serverMetadata().issuer, `http://127.0.0.1:${port}`);
      assert.match(out, /generated new secrets/);
      assert.match(out, /store: in memory/);
      assert.doesNotMatch(out, /no secrets configured/, 'the manager gets configured secrets');
      assert.equal(statSync(keysFile).mode & 0o777, 0o600);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('npm start on a taken port: a clear error, exit code 1, no "listening" line', async function () {
    this.timeout(30_000);
    const r = await runOnTakenPort('examples/provider/server.ts', { KEYS_FILE: join(dir, 'keys.json'), REDIS_URL: '' });
    assert.equal(r.code, 1, `exit code (stdout: ${r.stdout} stderr: ${r.stderr})`);
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${r.port}: EADDRINUSE .*set PORT`));
    assert.doesNotMatch(r.stdout, /listening/);
  });
});
