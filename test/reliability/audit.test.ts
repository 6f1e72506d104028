/**
 * The audit itself: a clean tree gives no violation, and each kind of damage planted in a dump
 * or in the Redis keyspace is reported. Without this, "0 violations" after a soak would prove
 * nothing.
 */
import assert from 'node:assert/strict';
import { RedisStore } from '../../src/redis/redis-store.js';
import type { TreeDump } from '../../src/store/store.js';
import type { TokenRecord } from '../../src/tree/records.js';
import { TestClock, codeFlow, makeManager } from '../conformance/harness.js';
import { allKeys, singleServerPerSuite, uniquePrefix } from '../redis/helpers.js';
import { atRestFindings, auditDump, auditRedisKeys, redisTexts, spellings, storedHashOf } from './audit.js';

const kinds = (vs: ReadonlyArray<{ kind: string }>) => [...new Set(vs.map((v) => v.kind))].sort();

/** A copy of a dump with `edit` applied to it. */
function planted(d: TreeDump, edit: (d: { users: unknown[]; clients: unknown[]; grants: unknown[]; tokens: TokenRecord[]; markers: unknown[] }) => void): TreeDump {
  const copy = structuredClone(d) as unknown as { users: unknown[]; clients: unknown[]; grants: unknown[]; tokens: TokenRecord[]; markers: unknown[] };
  edit(copy);
  return copy as unknown as TreeDump;
}

describe('reliability: the audit finds planted damage', function () {
  this.timeout(30_000);
  const fx = singleServerPerSuite(['--maxmemory-policy', 'noeviction']);

  it('dump: orphans, a live token under a revoked parent or family, a used-up record, duplicates, double spends', async () => {
    const clock = new TestClock();
    const m = makeManager(undefined, clock);
    const f = await codeFlow(m, 'alice', 'app');
    const r1 = await m.refresh(f.refresh!, { clientId: 'app' });
    await m.mintToken(f.sessionId, 'access_token', { basedOn: r1.refreshToken!.value });
    const d = await m.dump();
    const now = clock.now;
    const clean = auditDump(d, now, { singleRedemption: true, singleRefreshPerFamily: true });
    assert.deepEqual(clean.violations, []);
    assert.equal(clean.counts.grants, 1);
    assert.ok(clean.counts.activeTokens >= 4);

    const rt = d.tokens.find((t) => t.class === 'refresh_token')!;
    const cases: Array<[string, (x: Parameters<Parameters<typeof planted>[1]>[0]) => void]> = [
      ['orphan-grant', (x) => (x.clients.length = 0)],
      ['orphan-client', (x) => (x.users.length = 0)],
      ['orphan-token', (x) => (x.grants.length = 0)],
      // The refresh token revoked, but an access token minted from it left active.
      ['active-under-revoked-ancestor', (x) => ((x.tokens.find((t) => t.id === rt.id) as { revoked: boolean }).revoked = true)],
      ['used-up-token-kept', (x) => ((x.tokens.find((t) => t.id === rt.id) as { used: number }).used = 1)],
      ['duplicate-hash', (x) => x.tokens.push({ ...x.tokens[0]!, id: 'other-id' })],
      ['two-live-refresh-tokens', (x) => x.tokens.push({ ...rt, id: 'second', hash: 'h2' })],
      ['marker-and-record', (x) => x.markers.push({ ...(x.markers[0] as object), tokenId: rt.id, hash: 'h3' })],
      ['token-outlives-grant', (x) => x.tokens.push({ ...rt, id: 'long', hash: 'h4', familyId: 'f-long', expiresAt: now + 10 * 365 * 86_400_000 })],
    ];
    for (const [kind, edit] of cases) {
      const a = auditDump(planted(d, edit), now, { singleRefreshPerFamily: true });
      assert.ok(kinds(a.violations).includes(kind), `${kind} not found; got ${JSON.stringify(kinds(a.violations))}`);
    }
    // A family member revoked (the current refresh token) while another member stays active.
    const fam = planted(d, (x) => {
      const access = x.tokens.find((t) => t.class === 'access_token' && t.familyId === rt.familyId)!;
      x.tokens.push({ ...rt, id: 'old-member', hash: 'h5', revoked: true });
      assert.ok(access);
    });
    assert.ok(kinds(auditDump(fam, now).violations).includes('active-in-revoked-family'));
    // A code with two access tokens of its own: redeemed twice.
    const code = d.markers.find((mk) => mk.class === 'authorization_code')!;
    const twice = planted(d, (x) => {
      const a = x.tokens.find((t) => t.class === 'access_token' && t.basedOn === code.tokenId)!;
      x.tokens.push({ ...a, id: 'second-access', hash: 'h6' });
    });
    assert.ok(kinds(auditDump(twice, now, { singleRedemption: true }).violations).includes('code-redeemed-twice'));
  });

  it('Redis keys: dead index members, orphan and unindexed token keys, keys without TTL, strange keys', async () => {
    const clock = new TestClock();
    const prefix = uniquePrefix();
    const m = makeManager(new RedisStore({ client: fx.client, prefix, clock: clock.read }), clock);
    await m.startBrowserSession('alice', { validFor: 600 });
    const f = await codeFlow(m, 'alice', 'app');
    await m.refresh(f.refresh!, { clientId: 'app' });
    const clean = await auditRedisKeys(fx.client, prefix, clock.now);
    assert.deepEqual(clean.violations, []);
    assert.ok(clean.counts.tokenKeys >= 4 && clean.counts.userKeys === 1 && clean.counts.indexKeys === 1);

    const keys = await allKeys(fx.client, prefix);
    const userKey = keys.find((k) => k.includes('}u:'))!;
    const tokenKeys = keys.filter((k) => k.includes('}t:'));
    const grantField = Object.keys(await fx.client.hGetAll(userKey)).find((f) => f.startsWith('g'))!;

    // One token key gone (its index member now names nothing), one key without a TTL, a stray key.
    const saved = await fx.client.get(tokenKeys[0]!);
    await fx.client.del(tokenKeys[0]!);
    await fx.client.persist(tokenKeys[1]!);
    await fx.client.set(`${prefix}stray`, 'x');
    let a = await auditRedisKeys(fx.client, prefix, clock.now);
    assert.deepEqual(kinds(a.violations), ['index-member-without-token', 'key-without-ttl', 'unknown-key']);
    await fx.client.set(tokenKeys[0]!, saved!, { PX: 600_000 });
    await fx.client.pExpire(tokenKeys[1]!, 600_000);
    await fx.client.del(`${prefix}stray`);
    assert.deepEqual((await auditRedisKeys(fx.client, prefix, clock.now)).violations, []);

    // The grant field gone while its tokens and index members stay: orphans both ways.
    await fx.client.hDel(userKey, grantField);
    a = await auditRedisKeys(fx.client, prefix, clock.now);
    assert.ok(kinds(a.violations).includes('orphan-token-key'));
    assert.ok(kinds(a.violations).includes('index-member-without-grant'));

    // Once the records' clock passes every expiry, dead members and expired keys are not violations.
    clock.advanceSeconds(30 * 86_400);
    a = await auditRedisKeys(fx.client, prefix, clock.now);
    assert.deepEqual(a.violations, []);
    assert.equal(a.counts.deadIndexMembers, a.counts.indexMembers);
  });

  it('at rest: finds a token value in any usual spelling, and nothing in clean text', async () => {
    const value = `abc${'Q'.repeat(43)}`;
    const needles = new Map<string, string>();
    for (const s of spellings(value)) needles.set(s, 'token value');
    const salt = Buffer.alloc(32, 3);
    for (const s of spellings(salt)) needles.set(s, 'subject salt');
    assert.deepEqual(atRestFindings(['nothing here', storedHashOf(value)!], needles), []);
    for (const spelled of spellings(value)) {
      const found = atRestFindings([`{"x":"${spelled}"}`], needles);
      assert.equal(found.length, 1);
      assert.match(found[0]!.detail, /^\d token value spelling\(s\) found$/, 'names the kind, never the value');
    }
    assert.equal(atRestFindings([`k\t${salt.toString('hex')}\n`], needles).length, 1);
    // Reads every type of key.
    const prefix = uniquePrefix();
    await fx.client.hSet(`${prefix}h`, 'f', Buffer.from(value).toString('base64'));
    const texts = await redisTexts(fx.client, prefix);
    assert.equal(atRestFindings(texts, needles).length, 1);
  });
});
