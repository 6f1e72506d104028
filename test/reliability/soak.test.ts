/**
 * The 1-minute soak is part of CI (issue 7 item 4): `npm run soak -- --minutes 1` — two
 * example-provider processes on one private Redis under mixed flows, then the audit of the whole
 * tree, the comparison with what the workers saw, and the at-rest search (item 5). It must exit 0
 * with no violation, and must have done real work on both processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SoakReport } from '../../bench/soak/soak.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('reliability: npm run soak -- --minutes 1', function () {
  this.timeout(240_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'soak-test-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('two provider processes on one Redis: 0 violations, the store holds exactly what the workers saw, nothing secret at rest', async () => {
    const json = join(dir, 'report.json');
    let output = '';
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn('npm', ['run', '--silent', 'soak', '--', '--minutes', '1', '--json', json], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.once('error', reject);
      child.once('exit', resolve);
    });
    const tail = output.split('\n').slice(-60).join('\n');
    assert.equal(code, 0, `the soak exited with ${code}:\n${tail}`);
    const r = JSON.parse(readFileSync(json, 'utf8')) as SoakReport;
    assert.deepEqual(r.violations, []);
    // Real work, on both processes, in every kind of flow.
    assert.ok(r.http.requests >= 1000, `only ${r.http.requests} requests`);
    assert.ok(r.http.byBackend.every((n) => n >= 400), `requests per process: ${r.http.byBackend.join(', ')}`);
    for (const flow of ['login', 'reauthorize', 'refresh', 'parallel-refresh', 'code-reuse', 'revoke-access', 'revoke-refresh', 'logout', 'late-reuse', 'check']) {
      assert.ok((r.flows[flow]?.ok ?? 0) >= 1, `no ${flow} flow completed`);
    }
    // The comparison was not vacuous: values were received and each one was found.
    assert.ok(r.ledger.received >= 500 && r.ledger.present === r.ledger.received - r.ledger.expiredGone);
    assert.equal(r.ledger.missing, 0);
    assert.equal(r.ledger.unseen, 0);
    assert.equal(r.ledger.grants, r.ledger.grantsSeen);
    assert.ok(r.audit.counts.grants >= 50 && r.audit.keys.keys > 0);
    assert.ok(r.atRest.needles > 1000 && r.atRest.findings === 0);
    console.log(output.split('\n').filter((l) => l.startsWith('|') || l.startsWith('At rest') || l.startsWith('Violations') || l.startsWith('## ')).map((l) => `      ${l}`).join('\n'));
  });
});
