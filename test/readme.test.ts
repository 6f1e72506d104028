/**
 * The README's examples run as written (issue 2, "Done when"; the newcomer audit): a fenced ts
 * block is saved unchanged as `try.mts` (or `try-express.mts`) inside the repository and run with
 * `npx tsx` in a child process, the way the README tells a reader to; the Express one through the
 * README's own shell lines, which generate its secrets. Its `import … from 'oidc-sessions'`
 * resolves through the package's own `exports` to dist/ (built by `npm install`'s prepare step
 * and by `npm test`'s pretest step), so a missing build fails the test with ERR_MODULE_NOT_FOUND.
 * The file goes to a fresh directory under the git-ignored `.run/`: no package.json between it
 * and the repository root, so the import resolves exactly as from a `try.mts` in the root, and a
 * reader's own `try.mts` there is never overwritten.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './helpers/redis-server.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** The first fenced block in `lang` that follows the marker. */
function exampleBlock(readme: string, marker: string, lang = 'ts'): string {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README.md has no "${marker}" marker`);
  const match = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\``).exec(readme.slice(at));
  assert.ok(match, `no \`\`\`${lang} block after "${marker}"`);
  return match[1]!;
}

/** Saves `block` as `name` in a fresh directory inside the repository (the cwd to run it from). */
function saveAs(name: string, block: string): { dir: string; cleanup: () => void } {
  mkdirSync(join(root, '.run'), { recursive: true });
  const dir = mkdtempSync(join(root, '.run', 'readme-'));
  writeFileSync(join(dir, name), `${block}\n`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('README', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');

  it('the manager example runs as written (npx tsx try.mts) and prints what its comments say', async function () {
    this.timeout(60_000);
    const block = exampleBlock(readme, '<!-- example:manager');
    assert.match(block, /from 'oidc-sessions'/, 'the example imports the package by name');
    const expected = block
      .split('\n')
      .filter((l) => /^\s*console\.log\(/.test(l))
      .map((l) => {
        const comment = /\/\/ (.*)$/.exec(l);
        assert.ok(comment, `console.log line without an expected-output comment: ${l}`);
        return comment[1]!.trim();
      });
    assert.ok(expected.length >= 2, 'the example states its output');
    const { dir, cleanup } = saveAs('try.mts', block);
    try {
      const { stdout, stderr } = await run('npx', ['tsx', 'try.mts'], { cwd: dir, timeout: 50_000 }).catch((e: { stderr?: string; message: string }) => {
        throw new Error(`npx tsx try.mts failed (is dist/ built? npm install and npm test build it): ${e.stderr || e.message}`);
      });
      assert.equal(stderr, '', 'the example writes nothing to stderr (no warnings)');
      assert.deepEqual(
        stdout.trim().split('\n').map((l) => l.trim()),
        expected,
      );
    } finally {
      cleanup();
    }
  });

  it('the Express example starts as the README says (its secrets one-liner, npx tsx), serves a login, a code and a logout', async function () {
    this.timeout(60_000);
    const block = exampleBlock(readme, '<!-- example:express');
    assert.match(block, /from 'oidc-sessions'/, 'the example imports the package by name');
    const script = exampleBlock(readme, '<!-- example:express', 'sh');
    assert.match(script, /npx tsx try-express\.mts/, 'the README says how to run it');
    const { dir, cleanup } = saveAs('try-express.mts', block);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
    for (const v of ['SESSION_ID_KEY', 'SUBJECT_SALT', 'COOKIE_SECRET']) delete env[v]; // the script makes them
    // Its own process group, so stopping it stops npx and the node process under it too.
    const child = spawn('bash', ['-c', script], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`did not start: ${out}`)), 45_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes(`listening on http://localhost:${port}`)) {
            clearTimeout(t);
            resolve();
          }
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.once('exit', (code) => {
          clearTimeout(t);
          reject(new Error(`exited with ${code}: ${out}`));
        });
      });
      const base = `http://127.0.0.1:${port}`;
      const login = await fetch(`${base}/login`, { method: 'POST', body: new URLSearchParams({ username: 'alice' }), redirect: 'manual' });
      assert.equal(login.status, 302);
      const cookie = login.headers.get('set-cookie')?.split(';')[0];
      assert.ok(cookie, 'the login sets the session cookie');
      const authorize = await fetch(`${base}/authorize`, { headers: { cookie }, redirect: 'manual' });
      assert.equal(authorize.status, 302);
      assert.match(authorize.headers.get('location')!, /^https:\/\/app\.example\/cb\?code=./);
      const logout = await fetch(`${base}/logout`, { method: 'POST', headers: { cookie } });
      assert.deepEqual(await logout.json(), { notified: 1 });
      assert.doesNotMatch(out, /warn|error/i, `nothing but the listening line: ${out}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
      cleanup();
    }
  });
});
