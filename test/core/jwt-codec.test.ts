/**
 * JwtCodec signs with node:crypto and recognises only JWTs it signed. Every supported `alg` is
 * checked against jose (the reference implementation the relying parties use), and every kind
 * of tampering must leave a value that resolves to nothing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject, sign as cryptoSign, type webcrypto } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { JwtCodec } from '../../src/manager/jwt-tokens.js';
import type { JwtOptions } from '../../src/manager/options.js';

const ISSUER = 'https://op.example';
const ALGS: JwtOptions['alg'][] = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

async function keysFor(alg: JwtOptions['alg']) {
  // EdDSA: jose 6 names the key type Ed25519; the JWS alg stays EdDSA (RFC 8037).
  const { privateKey, publicKey } = await generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg, { extractable: true });
  return { privateKey, publicKey };
}

const claims = () => ({ sub: 'user-1', aud: 'app', nonce: 'n\u00e9-\u{1F511}', iat: 1_700_000_000, exp: 1_700_003_600, jti: 'ref-'.padEnd(48, 'x') });

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const parts = (jwt: string) => jwt.split('.') as [string, string, string];

describe('JwtCodec', () => {
  for (const alg of ALGS) {
    describe(alg, () => {
      it('signs JWTs that jose verifies, with the header and claims jose would write', async () => {
        const { privateKey, publicKey } = await keysFor(alg);
        const codec = new JwtCodec({ issuer: ISSUER, privateKey, alg, kid: 'k-1' });
        for (const typ of ['JWT', 'at+jwt'] as const) {
          const jwt = await codec.sign(claims(), typ);
          const { payload, protectedHeader } = await jwtVerify(jwt, publicKey, { algorithms: [alg], issuer: ISSUER, currentDate: new Date(1_700_000_100_000), typ });
          assert.deepEqual(protectedHeader, { alg, typ, kid: 'k-1' });
          assert.deepEqual(payload, { ...claims(), iss: ISSUER });
          // Byte for byte what jose's own signer writes before the signature.
          const byJose = await new SignJWT(claims()).setProtectedHeader({ alg, typ, kid: 'k-1' }).setIssuer(ISSUER).sign(privateKey);
          assert.equal(jwt.slice(0, jwt.lastIndexOf('.')), byJose.slice(0, byJose.lastIndexOf('.')));
          assert.equal(await codec.reference(jwt), claims().jti);
          const [h, p, sig] = parts(jwt);
          const flipped = Buffer.from(sig, 'base64url');
          flipped[5]! ^= 0x40;
          assert.equal(await codec.reference(`${h}.${p}.${flipped.toString('base64url')}`), undefined);
          assert.equal(await codec.reference(`${h}.${b64json({ ...claims(), iss: ISSUER, jti: 'ref-'.padEnd(48, 'z') })}.${sig}`), undefined);
        }
      });
    });
  }

  it('takes a KeyObject as well as a CryptoKey, and writes no kid when none is configured', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const codec = new JwtCodec({ issuer: ISSUER, privateKey, alg: 'ES256' });
    const jwt = await codec.sign(claims(), 'JWT');
    assert.deepEqual(decodeProtectedHeader(jwt), { alg: 'ES256', typ: 'JWT' });
    await jwtVerify(jwt, publicKey, { algorithms: ['ES256'], issuer: ISSUER, currentDate: new Date(1_700_000_100_000) });
  });

  it('ECDSA signatures are fresh each time (random k) and still verify', async () => {
    const { privateKey } = await keysFor('ES256');
    const codec = new JwtCodec({ issuer: ISSUER, privateKey, alg: 'ES256' });
    const [a, b] = await Promise.all([codec.sign(claims(), 'JWT'), codec.sign(claims(), 'JWT')]);
    assert.notEqual(parts(a)[2], parts(b)[2]);
    assert.equal(await codec.reference(a), claims().jti);
    assert.equal(await codec.reference(b), claims().jti);
  });

  describe('reference() refuses what we did not sign exactly', () => {
    async function setup() {
      const { privateKey } = await keysFor('ES256');
      const codec = new JwtCodec({ issuer: ISSUER, privateKey, alg: 'ES256', kid: 'k-1' });
      const jwt = await codec.sign(claims(), 'at+jwt');
      return { codec, privateKey, jwt };
    }

    it('a changed payload, header or signature', async () => {
      const { codec, jwt } = await setup();
      const [h, p, s] = parts(jwt);
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
      const sig = Buffer.from(s, 'base64url');
      const flipped = Buffer.from(sig);
      flipped[10]! ^= 1;
      const cases = {
        'other jti': `${h}.${b64json({ ...payload, jti: 'ref-'.padEnd(48, 'y') })}.${s}`,
        'extra claim': `${h}.${b64json({ ...payload, scope: 'admin' })}.${s}`,
        'other typ': `${b64json({ alg: 'ES256', typ: 'JWT', kid: 'k-1' })}.${p}.${s}`,
        'flipped signature bit': `${h}.${p}.${flipped.toString('base64url')}`,
        'truncated signature': `${h}.${p}.${sig.subarray(0, 63).toString('base64url')}`,
        'DER signature': `${h}.${p}.${Buffer.concat([Buffer.from([0x30, 0x44, 0x02, 0x20]), sig.subarray(0, 32), Buffer.from([0x02, 0x20]), sig.subarray(32)]).toString('base64url')}`,
        'empty signature': `${h}.${p}.`,
        'padded signature': `${h}.${p}.${s}==`,
        // 64 bytes leave 2 unused bits in the last character: another spelling of the same bytes
        'non-canonical signature': `${h}.${p}.${s.slice(0, -1)}${B64URL[B64URL.indexOf(s.at(-1)!) ^ 1]}`,
        'junk in signature': `${h}.${p}.${s.slice(0, 40)}!${s.slice(40)}`,
        'four parts': `${jwt}.${s}`,
      };
      for (const [why, forged] of Object.entries(cases)) assert.equal(await codec.reference(forged), undefined, why);
    });

    it('alg none, HS256 keyed with the public key, another curve, a foreign key', async () => {
      const { codec, jwt } = await setup();
      const [, p] = parts(jwt);
      const none = `${b64json({ alg: 'none', typ: 'at+jwt' })}.${p}.`;
      assert.equal(await codec.reference(none), undefined, 'alg none');
      // alg confusion: an HMAC keyed with the (public) verification key must not pass.
      const { publicKey } = await keysFor('ES256');
      const jwk = await exportJWK(publicKey);
      const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' }).setIssuer(ISSUER).sign(new TextEncoder().encode(JSON.stringify(jwk)));
      assert.equal(await codec.reference(hs), undefined, 'HS256');
      const es384 = await new SignJWT(claims()).setProtectedHeader({ alg: 'ES384', typ: 'at+jwt' }).setIssuer(ISSUER).sign((await keysFor('ES384')).privateKey);
      assert.equal(await codec.reference(es384), undefined, 'ES384');
      const foreign = await new JwtCodec({ issuer: ISSUER, privateKey: (await keysFor('ES256')).privateKey, alg: 'ES256', kid: 'k-1' }).sign(claims(), 'at+jwt');
      assert.equal(await codec.reference(foreign), undefined, 'another key');
    });

    it('our key and alg, but another issuer, no jti, a crit header or a payload that is not an object', async () => {
      const { codec, privateKey } = await setup();
      const signed = async (header: Record<string, unknown>, payload: string, payloadSegment = Buffer.from(payload).toString('base64url')) => {
        const input = `${b64json(header)}.${payloadSegment}`;
        const key = KeyObject.from(privateKey as webcrypto.CryptoKey);
        return `${input}.${cryptoSign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
      };
      const header = { alg: 'ES256', typ: 'at+jwt', kid: 'k-1' };
      // controls: the helper makes tokens the codec accepts, also under a header we no longer
      // write (another kid, no typ) as long as the alg is ours
      assert.equal(await codec.reference(await signed(header, JSON.stringify({ ...claims(), iss: ISSUER }))), claims().jti);
      assert.equal(await codec.reference(await signed({ alg: 'ES256', kid: 'k-0' }, JSON.stringify({ ...claims(), iss: ISSUER }))), claims().jti);
      const cases = {
        'other issuer': await signed(header, JSON.stringify({ ...claims(), iss: 'https://evil.example' })),
        'no issuer': await signed(header, JSON.stringify(claims())),
        'no jti': await signed(header, JSON.stringify({ ...claims(), jti: undefined, iss: ISSUER })),
        'numeric jti': await signed(header, JSON.stringify({ ...claims(), jti: 42, iss: ISSUER })),
        'array payload': await signed(header, JSON.stringify([ISSUER])),
        'null payload': await signed(header, 'null'),
        'not JSON': await signed(header, '{"iss":'),
        'crit header': await signed({ ...header, crit: ['exp'] }, JSON.stringify({ ...claims(), iss: ISSUER })),
        'b64=false': await signed({ ...header, b64: false, crit: ['b64'] }, JSON.stringify({ ...claims(), iss: ISSUER })),
        'b64=false without crit': await signed({ ...header, b64: false }, JSON.stringify({ ...claims(), iss: ISSUER })),
        // signed as written, but not base64url: one token, one spelling
        'padded payload': await signed(header, '', `${Buffer.from(JSON.stringify({ ...claims(), iss: ISSUER, x: 'a' })).toString('base64url')}=`),
        'payload with a space': await signed(header, '', ` ${Buffer.from(JSON.stringify({ ...claims(), iss: ISSUER })).toString('base64url')}`),
        'alg missing': await signed({ typ: 'at+jwt' }, JSON.stringify({ ...claims(), iss: ISSUER })),
        'alg ES384 on our key': await signed({ ...header, alg: 'ES384' }, JSON.stringify({ ...claims(), iss: ISSUER })),
        'header an array': await signed([header] as unknown as Record<string, unknown>, JSON.stringify({ ...claims(), iss: ISSUER })),
        'header not JSON': await signed({}, '').then((t) => `eyJhbGc.${t.split('.').slice(1).join('.')}`),
      };
      for (const [why, forged] of Object.entries(cases)) assert.equal(await codec.reference(forged), undefined, why);
    });
  });
});
