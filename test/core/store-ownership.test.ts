import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { InvalidInput, MemoryStore, SessionManager } from '../../src/index.js';

const secrets = () => ({ sessionIdKeys: [{ kid: 'k', key: randomBytes(32) }], subjectSalt: randomBytes(32) });
const quiet = { warn: () => {} };

describe('one store per issuer', () => {
  it('a store already serving a manager refuses a manager with another subjectSalt', () => {
    const store = new MemoryStore();
    new SessionManager({ store, secrets: secrets(), logger: quiet });
    assert.throws(() => new SessionManager({ store, secrets: secrets(), logger: quiet }), InvalidInput);
    assert.throws(() => new SessionManager({ store, logger: quiet }), InvalidInput, 'random dev secrets are other secrets too');
  });

  it('managers with the same subjectSalt share a store (session id keys may rotate) and see one tree', async () => {
    const store = new MemoryStore();
    const s = secrets();
    const a = new SessionManager({ store, secrets: s, logger: quiet });
    const b = new SessionManager({ store, secrets: { ...s, sessionIdKeys: [{ kid: 'k2', key: randomBytes(32) }, ...s.sessionIdKeys] }, logger: quiet });
    const sid = await a.createSession({ userId: 'alice', authRequest: { client_id: 'app', scope: 'openid' }, authnEvent: {} });
    const token = await a.mintToken(sid, 'access_token');
    assert.equal((await b.validateToken(token.value)).token.class, 'access_token');
  });
});
