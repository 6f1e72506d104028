/**
 * `subjectFor` recomputes the `sub` of a user's grants (public, or pairwise per sector) without a
 * store read, so a provider can tell whether a presented ID token names the signed-in user. Bad
 * input is in bad-input.test.ts.
 */
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory-store.js';
import { TestClock, authRequest, makeManager } from '../conformance/harness.js';

describe('SessionManager.subjectFor', () => {
  const m = makeManager(new MemoryStore(), new TestClock());
  const grantSub = async (userId: string, clientId: string, extra: Record<string, unknown> = {}) => {
    const sessionId = await m.createSession({ userId, authnEvent: { authnInfo: 'urn:acr:pwd' }, authRequest: authRequest(clientId), ...extra });
    return (await m.getSessionInfo(sessionId, { grant: true })).grant!.sub;
  };

  it('equals the sub of the user\'s grants: public, and pairwise per sector', async () => {
    assert.equal(m.subjectFor('alice'), await grantSub('alice', 'app'));
    assert.equal(m.subjectFor('alice', { subType: 'public' }), await grantSub('alice', 'other'));
    const pairwise = { subType: 'pairwise', sectorIdentifier: 'rp.example' } as const;
    assert.equal(m.subjectFor('alice', pairwise), await grantSub('alice', 'spa', pairwise));
    // Another user, another sector, or public instead of pairwise: another sub.
    const subs = [m.subjectFor('alice'), m.subjectFor('bob'), m.subjectFor('alice', pairwise), m.subjectFor('bob', pairwise), m.subjectFor('alice', { subType: 'pairwise', sectorIdentifier: 'other.example' })];
    assert.equal(new Set(subs).size, subs.length);
  });
});
