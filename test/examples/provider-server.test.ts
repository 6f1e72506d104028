/**
 * `npm start` with REDIS_URL, across a restart: the tree (RedisStore), the browser sessions
 * (connect-redis) and the secrets (keys file) all survive, so a signed-in browser and its
 * tokens keep working when the provider process is replaced.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { freePort, startRedis, type RedisInstance } from '../helpers/redis-server.js';
import { Agent } from './helpers/agent.js';
import { authorizationRequest, signIn } from './helpers/flows.js';

const DEMO_SECRET = 'demo-app-secret-change-me-0123456789';
const DEMO_REDIRECT = 'http://localhost:4000/callback';

async function startServer(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/provider/server.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`did not start: ${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(' · users: ')) {
        clearTimeout(t);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`exited with ${code}: ${out}`));
    });
  });
  return { child, output: () => out };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

describe('npm start with REDIS_URL, across a restart', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let dir: string;
  const children: ChildProcess[] = [];

  before(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'op-server-'));
  });
  after(async () => {
    for (const c of children) await stopServer(c);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a signed-in browser and its tokens keep working when the provider restarts', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), ISSUER: issuer, REDIS_URL: redis.url, KEYS_FILE: join(dir, 'keys.json') };
    const first = await startServer(env);
    children.push(first.child);
    assert.match(first.output(), /store: Redis \(session tree and browser sessions\)/);
    const config = await oidc.discovery(new URL(issuer), 'demo-app', undefined, oidc.ClientSecretBasic(DEMO_SECRET), { execute: [oidc.allowInsecureRequests] });
    const agent = new Agent();
    const { tokens, claims } = await signIn(agent, config, DEMO_REDIRECT, { username: 'alice', password: 'alice-password' }, { scope: 'openid profile offline_access' });
    await stopServer(first.child);

    const second = await startServer(env);
    children.push(second.child);
    assert.doesNotMatch(second.output(), /generated new secrets/, 'the keys file is reused');
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.name, 'Alice Adams');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    assert.equal(refreshed.claims()?.sid, claims.sid);
    // The browser's cookie still names a live session: prompt=none gets a code.
    const none = await authorizationRequest(config, DEMO_REDIRECT, { prompt: 'none', scope: 'openid profile' });
    const hop = await agent.walk(none.url, (u) => u.origin === 'http://localhost:4000');
    assert.ok(hop.url.searchParams.get('code'), `expected a code, got ${hop.url.search}`);
    await stopServer(second.child);
  });
});
