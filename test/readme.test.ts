/**
 * The README's examples run as written (issue 2, "Done when"; the newcomer audit): a fenced ts
 * block is saved unchanged as `try.mts` inside the repository and run with `npx tsx try.mts` in a
 * child process, the way the README tells a reader to. Its `import … from 'oidc-sessions'`
 * resolves through the package's own `exports` to dist/ (built by `npm install`'s prepare step
 * and by `npm test`'s pretest step), so a missing build fails the test with ERR_MODULE_NOT_FOUND.
 * The file goes to a fresh directory under the git-ignored `.run/`: no package.json between it
 * and the repository root, so the import resolves exactly as from a `try.mts` in the root, and a
 * reader's own `try.mts` there is never overwritten.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

/** The fenced ts block that follows the marker. */
function exampleBlock(readme: string, marker: string): string {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README.md has no "${marker}" marker`);
  const match = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(at));
  assert.ok(match, `no \`\`\`ts block after "${marker}"`);
  return match[1]!;
}

/** Saves `block` as try.mts in a fresh directory inside the repository; returns its path relative to the root. */
function saveAsTry(block: string): { file: string; cleanup: () => void } {
  mkdirSync(join(root, '.run'), { recursive: true });
  const dir = mkdtempSync(join(root, '.run', 'readme-'));
  writeFileSync(join(dir, 'try.mts'), `${block}\n`);
  return { file: relative(root, join(dir, 'try.mts')), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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
    const { file, cleanup } = saveAsTry(block);
    try {
      const { stdout, stderr } = await run('npx', ['tsx', file], { cwd: root, timeout: 50_000 }).catch((e: { stderr?: string; message: string }) => {
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
});
