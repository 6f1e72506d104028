/**
 * Nothing secret at rest (SPEC §3.3, §6): after a full flow — browser login, PKCE code with a
 * nonce, code exchange with an ID token, refresh rotation, an extra access token, a revoked
 * token — every key and every value in Redis is read and none contains a token value, a session
 * id, the session-id keys, the subject salt or the ID-token signing key, in any usual spelling.
 */
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair } from 'jose';
import { hashTokenValue } from '../../src/crypto/token-value.js';
import { jwtReferenceHash } from '../../src/manager/jwt-tokens.js';
import { RedisStore } from '../../src/redis/redis-store.js';
import { REDIRECT, SECRET_SPELLINGS, TestClock, VERIFIER, makeManager, pkceChallenge } from '../conformance/harness.js';
import { allKeys, singleServerPerSuite, uniquePrefix } from './helpers.js';

/** The spellings a value could be stored under. */
function spellings(value: string): string[] {
  const b = Buffer.from(value);
  return [value, b.toString('base64'), b.toString('base64url'), b.toString('hex')];
}

describe('RedisStore: nothing secret at rest', function () {
  this.timeout(30_000);
  const fx = singleServerPerSuite();

  it('a full flow leaves no token value, session id, key or salt in any key or value', async () => {
    const prefix = uniquePrefix();
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwt = { issuer: 'https://op.example', privateKey, alg: 'ES256' as const, kid: 'k' };
    const m = makeManager(new RedisStore({ client: fx.client, prefix }), new TestClock(), { jwt });
    const bs = await m.startBrowserSession('alice', { validFor: 3600 });
    const sid = await m.createSession({
      userId: 'alice',
      authnEvent: { authnInfo: 'urn:acr:pwd', amr: ['pwd'] },
      authRequest: { client_id: 'app', response_type: 'code', scope: 'openid offline_access', redirect_uri: REDIRECT, nonce: 'n-0S6' },
      browserSessionId: bs,
    });
    const code = await m.mintToken(sid, 'authorization_code', {
      codeBinding: { redirectUri: REDIRECT, codeChallenge: pkceChallenge(VERIFIER), codeChallengeMethod: 'S256', nonce: 'n-0S6' },
    });
    const set = await m.redeemCode(code.value, { clientId: 'app', redirectUri: REDIRECT, codeVerifier: VERIFIER });
    assert.ok(set.idToken && set.refreshToken, 'the flow issued an ID token and a refresh token');
    const refreshed = await m.refresh(set.refreshToken.value, { clientId: 'app' });
    const extra = await m.mintToken(sid, 'access_token');
    const revoked = await m.mintToken(sid, 'access_token');
    await m.revokeToken(sid, revoked.value);

    const values = [code.value, set.accessToken.value, set.refreshToken.value, set.idToken.value, refreshed.accessToken.value, refreshed.refreshToken!.value, extra.value, revoked.value];
    if (refreshed.idToken) values.push(refreshed.idToken.value);
    const signingKey = (await exportJWK(jwt.privateKey)).d!;
    const needles = new Map<string, string>();
    for (const v of values) for (const s of spellings(v)) needles.set(s, 'token value');
    for (const s of spellings(sid)) needles.set(s, 'session id');
    for (const s of [...SECRET_SPELLINGS, ...spellings(signingKey)]) needles.set(s, 'key material');
    needles.set(VERIFIER, 'PKCE verifier');

    // Read everything under the prefix: key names and every value, whatever its type.
    const keys = await allKeys(fx.client, prefix);
    assert.ok(keys.length >= 5, `expected the flow's keys, found ${keys.length}`);
    const texts: string[] = [];
    for (const key of keys) {
      texts.push(key);
      const type = await fx.client.type(key);
      if (type === 'string') texts.push((await fx.client.get(key))!);
      else if (type === 'hash') texts.push(...Object.entries(await fx.client.hGetAll(key)).flat());
      else if (type === 'zset') texts.push(...(await fx.client.zRange(key, 0, -1)));
      else assert.fail(`unexpected key type ${type} for ${key}`);
    }
    const all = texts.join('\n');
    for (const [needle, what] of needles) assert.ok(!all.includes(needle), `Redis holds a ${what}`);
    // The scan did see the tokens: each is there as the hash of its value (a JWT: of its jti reference).
    for (const v of values) {
      const ref = v.startsWith('eyJ') ? (JSON.parse(Buffer.from(v.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti : undefined;
      if (ref !== undefined) for (const s of spellings(ref)) assert.ok(!all.includes(s), 'Redis holds the reference of a JWT');
      assert.ok(all.includes(ref === undefined ? hashTokenValue(v) : jwtReferenceHash(ref)), 'a token hash is missing: the scan read the wrong keys');
    }
  });
});
