/**
 * `req.oidcSessions` is typed by declaration merging: compiles fixtures/typed-app.ts (a real
 * app using every helper, with `@ts-expect-error` on misuses) with the project's compiler
 * options and expects no diagnostics. Were the property `any`, the expect-error lines would
 * themselves be errors ("unused @ts-expect-error").
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/**
 * A wrong use, without @ts-expect-error: it must produce exactly one error. It is compiled from
 * memory (as if it sat beside typed-app.ts) so that the project's own typecheck stays clean.
 */
const WRONG_SOURCE = `import express from 'express';
import '../../../src/index.js';
const app = express();
app.get('/', (req, res) => {
  const userId: string = req.oidcSessions.userId;
  res.send(userId);
});
`;

/** Diagnostics of both fixtures from one program (one compile), by file name. */
function diagnosticsOf(files: readonly string[], virtual: ReadonlyMap<string, string>): Map<string, string[]> {
  const config = ts.readConfigFile(join(root, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const options = { ...parsed.options, noEmit: true };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) =>
    virtual.has(f) ? ts.createSourceFile(f, virtual.get(f)!, lang) : getSourceFile.call(host, f, lang, ...rest);
  const program = ts.createProgram(files, options, host);
  const out = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const name = d.file?.fileName ?? '';
    const line = d.file ? d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1 : 0;
    const list = out.get(name) ?? out.set(name, []).get(name)!;
    list.push(`${name}:${line} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return out;
}

describe('req.oidcSessions types', function () {
  this.timeout(120_000);
  const app = join(here, 'fixtures', 'typed-app.ts');
  const wrong = join(here, 'fixtures', 'typed-wrong.ts').replaceAll('\\', '/');
  let diagnostics: Map<string, string[]>;
  before(function () {
    diagnostics = diagnosticsOf([app, wrong], new Map([[wrong, WRONG_SOURCE]]));
  });

  it('a handler using every helper type-checks, and misuses are type errors', function () {
    assert.deepEqual(diagnostics.get(app), []);
  });

  it('the check is not vacuous: a wrong use without @ts-expect-error is reported', function () {
    const errors = diagnostics.get(wrong)!;
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /typed-wrong\.ts:\d+ .*not assignable to type 'string'/);
  });

  it('nothing else in the program has errors', function () {
    const others = [...diagnostics].filter(([f]) => f !== app && f !== wrong).flatMap(([, d]) => d);
    assert.deepEqual(others, []);
  });
});
