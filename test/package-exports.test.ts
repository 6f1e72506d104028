/**
 * The package is usable by name from ES modules and from CommonJS (SPEC §2): child node
 * processes import `oidc-sessions` (the package resolves itself through its `exports`, which
 * point at dist/, built by `npm test`'s pretest step) and require it, run the same small flow,
 * and must agree. `require` must not print an ExperimentalWarning (require(esm) is stable from
 * Node 20.19 on; a warning there would reach every CommonJS user's logs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** A flow that exercises the manager and the error classes; prints one JSON line. `p` is the package. */
const FLOW = `
  const keys = { sessionIdKeys: [{ kid: 'k', key: Buffer.alloc(32, 1) }], subjectSalt: Buffer.alloc(32, 2) };
  const m = new p.SessionManager({ secrets: keys });
  const sid = await m.createSession({ userId: 'alice', authnEvent: {}, authRequest: { client_id: 'app', response_type: 'code', scope: 'openid offline_access' } });
  const code = await m.mintToken(sid, 'authorization_code');
  const set = await m.redeemCode(code.value, { clientId: 'app' });
  const v = await m.validateToken(set.accessToken.value, { tokenClass: 'access_token' });
  let reuse;
  try { await m.redeemCode(code.value, { clientId: 'app' }); } catch (e) {
    reuse = { name: e.name, isTokenReused: e instanceof p.TokenReused, isBase: e instanceof p.OidcSessionsError, code: e.code, revoked: e.revoked };
  }
  let bad;
  try { await m.getSessionInfo('nope'); } catch (e) { bad = { name: e.name, typed: e instanceof p.InvalidSessionId, status: e.status }; }
  const errorClasses = Object.keys(p).filter((k) => typeof p[k] === 'function' && p[k].prototype instanceof Error).sort();
  const codes = errorClasses.filter((k) => k !== 'OidcSessionsError').map((k) => {
    const args = k === 'InactiveToken' ? ['revoked'] : k === 'TokenReused' ? ['grant'] : ['x'];
    return [k, new p[k](...args).code];
  });
  console.log(JSON.stringify({
    exports: Object.keys(p).sort(),
    user: v.userId, scope: v.scope, introspect: (await m.introspect(set.accessToken.value)).active,
    reuse, bad, errorClasses, codes,
    memoryStore: m.store instanceof p.MemoryStore,
  }));
`;

async function node(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, args, { cwd: root, timeout: 20_000 });
}

describe('package exports: ES modules and CommonJS', function () {
  this.timeout(30_000);
  before(() => {
    assert.ok(existsSync(join(root, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` first (npm test does it)');
  });

  it('import by name and require by name give the same working SessionManager and error classes, without warnings', async () => {
    const esm = await node(['--input-type=module', '-e', `import * as p from 'oidc-sessions';\n${FLOW}`]);
    const cjs = await node(['-e', `const p = require('oidc-sessions');\n(async () => {\n${FLOW}\n})().catch((e) => { console.error(e); process.exit(1); });`]);
    assert.equal(esm.stderr, '');
    assert.doesNotMatch(cjs.stderr, /ExperimentalWarning/, 'require(esm) printed an ExperimentalWarning');
    assert.equal(cjs.stderr, '');
    const a = JSON.parse(esm.stdout);
    const b = JSON.parse(cjs.stdout);
    assert.deepEqual(b, a, 'CommonJS and ES module users see the same package');
    assert.equal(a.user, 'alice');
    assert.deepEqual(a.scope, ['openid', 'offline_access']);
    assert.equal(a.introspect, false, 'the reuse revoked the grant');
    assert.deepEqual(a.reuse, { name: 'TokenReused', isTokenReused: true, isBase: true, code: 'token_reused', revoked: 'grant' });
    assert.deepEqual(a.bad, { name: 'InvalidSessionId', typed: true, status: 400 });
    assert.equal(a.memoryStore, true);
    for (const cls of ['InvalidInput', 'InvalidSessionId', 'UnknownSession', 'UnknownToken', 'InactiveToken', 'TokenReused', 'MintingNotAllowed', 'WrongClient', 'StoreUnavailable', 'OidcSessionsError']) {
      assert.ok(a.errorClasses.includes(cls), `${cls} is exported`);
    }
    assert.deepEqual(Object.fromEntries(a.codes).StoreUnavailable, 'store_unavailable');
  });

  it('one process that both requires and imports the package gets one copy (no dual-package hazard)', async () => {
    const { stdout, stderr } = await node([
      '-e',
      `const a = require('oidc-sessions');
       import('oidc-sessions').then((b) => console.log(JSON.stringify({
         manager: a.SessionManager === b.SessionManager,
         errors: a.TokenReused === b.TokenReused && a.OidcSessionsError === b.OidcSessionsError,
       })));`,
    ]);
    assert.equal(stderr, '');
    assert.deepEqual(JSON.parse(stdout), { manager: true, errors: true });
  });

  it('the types entry exists and the package.json subpath is exported', async () => {
    assert.ok(existsSync(join(root, 'dist', 'index.d.ts')));
    const { stdout } = await node(['-e', `console.log(require('oidc-sessions/package.json').name)`]);
    assert.equal(stdout.trim(), 'oidc-sessions');
  });
});
