/**
 * The README's manager example runs as written (issue 2, "Done when"): the ```ts block after the
 * `<!-- example:manager` marker is transpiled (types only — the code is unchanged), its
 * `'oidc-sessions'` import is pointed at the built package (dist/, built by `npm test`'s pretest
 * step), and it runs as an ES module in a child node process. Every `console.log(…); // expected`
 * line in the block states its own output; the test compares stdout with those comments.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'index.js');
const run = promisify(execFile);

/** The fenced ts block that follows the marker. */
function exampleBlock(readme: string, marker: string): string {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README.md has no "${marker}" marker`);
  const match = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(at));
  assert.ok(match, `no \`\`\`ts block after "${marker}"`);
  return match[1]!;
}

describe('README', () => {
  it('the manager example runs as written and prints what its comments say', async function () {
    this.timeout(30_000);
    assert.ok(existsSync(dist), 'dist/index.js is missing: run `npm run build` first (npm test does it)');
    const block = exampleBlock(readFileSync(join(root, 'README.md'), 'utf8'), '<!-- example:manager');
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
    const js = ts.transpileModule(block.replaceAll("'oidc-sessions'", JSON.stringify(pathToFileURL(dist).href)), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', js], { cwd: root, timeout: 20_000 });
    assert.equal(stderr, '', 'the example writes nothing to stderr (no warnings)');
    assert.deepEqual(
      stdout.trim().split('\n').map((l) => l.trim()),
      expected,
    );
  });
});
