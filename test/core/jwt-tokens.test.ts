/**
 * JWT-format token values (SPEC §3.3): ID tokens and RFC 9068 access tokens stay revocable and
 * introspectable because their `jti` resolves to the record.
 */
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { InactiveToken, UnknownToken } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { REDIRECT, TestClock, authRequest, jwtOptions, makeManager, rejectsWith } from '../conformance/harness.js';

describe('JWT-format tokens', () => {
  async function setup() {
    const clock = new TestClock();
    const jwt = await jwtOptions();
    const m = makeManager(new MemoryStore(), clock, { jwt, tokenPolicies: { access_token: { format: 'jwt', expiresIn: 600 } } });
    const sessionId = await m.createSession({ userId: 'alice', authnEvent: { authnInfo: 'urn:acr:pwd' }, authRequest: authRequest('app') });
    const code = await m.mintToken(sessionId, 'authorization_code', { codeBinding: { redirectUri: REDIRECT, nonce: 'n-1' } });
    const tokens = await m.redeemCode(code.value, { clientId: 'app', redirectUri: REDIRECT });
    return { m, clock, jwt, sessionId, tokens };
  }

  it('access tokens are RFC 9068 JWTs whose claims match the record', async () => {
    const { m, jwt, tokens } = await setup();
    const at = tokens.accessToken.value;
    assert.equal(decodeProtectedHeader(at).typ, 'at+jwt');
    const claims = decodeJwt(at);
    assert.equal(claims.iss, jwt.issuer);
    assert.equal(claims.client_id, 'app');
    assert.equal(claims.scope, 'openid offline_access');
    assert.equal(claims.exp! - claims.iat!, 600);
    const v = await m.validateToken(at, { tokenClass: 'access_token' });
    assert.equal(claims.sub, v.sub);
    assert.equal(v.token.id, tokens.accessToken.token.id);
  });

  it('ID tokens resolve to their record by value and carry the nonce', async () => {
    const { m, tokens } = await setup();
    const idt = tokens.idToken!.value;
    assert.equal(decodeJwt(idt).nonce, 'n-1');
    assert.equal(decodeJwt(idt).aud, 'app');
    const info = await m.getSessionInfoByToken(idt);
    assert.equal(info.token?.class, 'id_token');
    assert.equal(info.active, true);
  });

  it('revoking the grant makes a JWT access token inactive although its signature is still valid', async () => {
    const { m, sessionId, tokens } = await setup();
    await m.revokeGrant(sessionId);
    await rejectsWith(m.validateToken(tokens.accessToken.value), InactiveToken, (e) => assert.equal(e.reason, 'grant_revoked'));
    assert.deepEqual(await m.introspect(tokens.accessToken.value), { active: false });
  });

  it('an expired JWT resolves to its record and reports expired (B-42), never another error', async () => {
    const { m, clock, tokens } = await setup();
    clock.advanceSeconds(601);
    await rejectsWith(m.validateToken(tokens.accessToken.value), InactiveToken, (e) => assert.equal(e.reason, 'expired'));
  });

  it('a tampered, foreign or bare-jti JWT is unknown', async () => {
    const { m, tokens } = await setup();
    const at = tokens.accessToken.value;
    const [h, p, s] = at.split('.') as [string, string, string];
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(at), scope: 'admin' })).toString('base64url')}.${s}`;
    await rejectsWith(m.validateToken(forged), UnknownToken);
    const other = makeManager(new MemoryStore(), new TestClock(), { jwt: await jwtOptions() });
    await rejectsWith(other.validateToken(at), UnknownToken);
    // The jti alone (as it may appear in a resource server's logs) is not a usable opaque token.
    await rejectsWith(m.validateToken(decodeJwt(at).jti!), UnknownToken);
    void p;
  });
});
