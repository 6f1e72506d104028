import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryStore, SessionManager, UnknownToken, type SessionStore } from '../../src/index.js';

const quiet = { warn: () => {} };
const secrets = () => ({ sessionIdKeys: [{ kid: 'k', key: randomBytes(32) }], subjectSalt: randomBytes(32) });
const AUTH = { client_id: 'app', scope: 'openid offline_access', response_type: 'code', redirect_uri: 'https://app.example/cb' };

/** A store object that forwards every call to `inner`: what a metrics or fault-injection wrapper is. */
function forwarding(inner: SessionStore): SessionStore {
  return new Proxy(inner, { get: (t, p) => (typeof Reflect.get(t, p) === 'function' ? (...a: unknown[]) => (Reflect.get(t, p) as (...x: unknown[]) => unknown).apply(t, a) : Reflect.get(t, p)) });
}

/** A's access token, refresh token and an unused code, all minted on `store` (or a view of it). */
async function mintedBy(a: SessionManager) {
  const sid = await a.createSession({ userId: 'alice', authRequest: AUTH, authnEvent: {} });
  const set = await a.redeemCode((await a.mintToken(sid, 'authorization_code')).value, { clientId: 'app' });
  const code = (await a.mintToken(sid, 'authorization_code')).value;
  return { access: set.accessToken.value, refresh: set.refreshToken!.value, code };
}

describe('tokens minted under other secrets are unknown, whatever way they reach a manager', () => {
  async function expectForeign(b: SessionManager, t: { access: string; refresh: string; code: string }) {
    await assert.rejects(b.validateToken(t.access), UnknownToken);
    assert.deepEqual(await b.introspect(t.access), { active: false });
    await assert.rejects(b.getSessionInfoByToken(t.access), UnknownToken);
    await assert.rejects(b.redeemCode(t.code, { clientId: 'app' }), UnknownToken);
    await assert.rejects(b.refresh(t.refresh, { clientId: 'app' }), UnknownToken);
  }

  it('through two wrappers of one MemoryStore (the one-store guard sees two objects)', async () => {
    const shared = new MemoryStore();
    const a = new SessionManager({ store: forwarding(shared), secrets: secrets(), logger: quiet });
    const b = new SessionManager({ store: forwarding(shared), secrets: secrets(), logger: quiet });
    const t = await mintedBy(a);
    await expectForeign(b, t);
    assert.equal((await a.validateToken(t.access)).userId, 'alice', 'the owner still accepts its token');
  });

  it("through a dump of another issuer's tree loaded into this one's store", async () => {
    const a = new SessionManager({ store: new MemoryStore(), secrets: secrets(), logger: quiet });
    const b = new SessionManager({ store: new MemoryStore(), secrets: secrets(), logger: quiet });
    const t = await mintedBy(a);
    await b.load(await a.dump());
    await expectForeign(b, t);
  });
});
