/**
 * `npm run soak -- --minutes N [--max-requests M] [--workers W] [--json FILE]`
 *
 * Runs the soak (soak.ts): two example-provider processes on one private Redis under mixed
 * OpenID Connect flows for N minutes (or M requests, whichever comes first), then audits the
 * whole tree, compares it with what the workers saw, and searches Redis and a dump for token
 * values and secrets. Prints the figures; exits 1 on any violation.
 */
import { writeFileSync } from 'node:fs';
import { flagValue, intFlag } from '../lib/args.js';
import { fmt, formatTable } from '../lib/table.js';
import { soak, type SoakReport } from './soak.js';

function parseMinutes(argv: readonly string[]): number {
  const raw = flagValue(argv, 'minutes') ?? '1';
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 24 * 60) throw new Error('--minutes must be a number of minutes (0 < N ≤ 1440)');
  return n;
}

function print(r: SoakReport): void {
  const h = r.http;
  const l = r.ledger;
  const a = r.audit.counts;
  const k = r.audit.keys;
  console.log(`\n## Soak: ${r.options.workers} workers, ${(r.loadMs / 60_000).toFixed(2)} min of load (ended by ${r.endedBy}; bounds ${r.options.minutes} min, ${fmt(r.options.maxRequests)} requests)\n`);
  console.log(
    formatTable(
      ['operations', 'count'],
      [
        ['HTTP requests (through the balancer)', fmt(h.requests)],
        ['… served by provider process 1 / 2', `${fmt(h.byBackend[0])} / ${fmt(h.byBackend[1])}`],
        ['… statuses', Object.entries(h.byStatus).map(([s, n]) => `${s}×${n}`).join(' ')],
        ['… latency p50 / p99 / max (ms)', `${h.p50Ms} / ${h.p99Ms} / ${h.maxLatencyMs}`],
        ['… answers lost / over the bound', `${h.lost} / ${h.timeouts}`],
        ...Object.entries(r.flows).map(([name, f]) => [`flow ${name} (ok / failed)`, `${fmt(f.ok)} / ${fmt(f.failed)}`]),
        ['checks of answers made by the workers', fmt(r.checks)],
        ['consent pages answered', fmt(r.consents)],
        ['back-channel logout tokens received', fmt(r.backchannelLogoutTokens)],
        ['faults injected', fmt(r.faultsInjected)],
      ],
      [1],
    ),
  );
  console.log(`\n### Audit of the whole tree (dump with the same secrets; every key under op:tree:)\n`);
  console.log(
    formatTable(
      ['records', 'count'],
      [
        ['users / client sessions / grants', `${fmt(a.users)} / ${fmt(a.clients)} / ${fmt(a.grants)}`],
        ['tokens / reuse markers / active tokens', `${fmt(a.tokens)} / ${fmt(a.markers)} / ${fmt(a.activeTokens)}`],
        ['expired leftovers (allowed) / parents gone', `${fmt(a.expiredLeftovers)} / ${fmt(a.parentsGone)}`],
        ['Redis keys (user / index / token)', `${fmt(k.keys)} (${fmt(k.userKeys)} / ${fmt(k.indexKeys)} / ${fmt(k.tokenKeys)})`],
        ['index members (dead, awaiting prune)', `${fmt(k.indexMembers)} (${fmt(k.deadIndexMembers)})`],
      ],
      [1],
    ),
  );
  console.log(`\n### Store vs. what the workers saw\n`);
  console.log(
    formatTable(
      ['ledger', 'count'],
      [
        ['values received (code / access / refresh / id)', `${fmt(l.received)} (${fmt(l.receivedByKind.authorization_code)} / ${fmt(l.receivedByKind.access_token)} / ${fmt(l.receivedByKind.refresh_token)} / ${fmt(l.receivedByKind.id_token)})`],
        ['records in the store (tokens + markers)', fmt(l.records)],
        ['received and present', fmt(l.present)],
        ['received, expired and gone (allowed)', fmt(l.expiredGone)],
        ['received, not expired, missing (must be 0)', fmt(l.missing)],
        ['in the store, never received (must be 0)', fmt(l.unseen)],
        ['grants in the store / behind received values / holding nothing received', `${fmt(l.grants)} / ${fmt(l.grantsSeen)} / ${fmt(l.grantsUnseen)}`],
      ],
      [1],
    ),
  );
  console.log(`\nAt rest: ${fmt(r.atRest.needles)} spellings of token values, JWT references and signatures, PKCE verifiers, passwords and secrets searched in ${fmt(r.atRest.redisTexts)} Redis keys/values and the dump: ${r.atRest.findings} found.`);
  console.log(`\nViolations: ${r.violations.length}`);
  for (const v of r.violations.slice(0, 50)) console.log(`  - ${v}`);
  if (r.violations.length > 50) console.log(`  … and ${r.violations.length - 50} more`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const minutes = parseMinutes(argv);
  const maxRequests = intFlag(argv, 'max-requests', Math.max(1000, Math.round(minutes * 60 * 500)));
  const workers = intFlag(argv, 'workers', 8);
  const json = flagValue(argv, 'json');
  const report = await soak({ minutes, maxRequests, workers, log: (line) => console.log(line) });
  print(report);
  if (json) writeFileSync(json, JSON.stringify(report, null, 2));
  process.exit(report.violations.length > 0 ? 1 : 0);
}

main().catch((e: Error) => {
  console.error(`soak failed: ${e.stack ?? e.message}`);
  process.exit(2);
});
