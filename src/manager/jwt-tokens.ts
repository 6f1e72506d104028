/**
 * Token values that are JWTs: ID tokens (always) and access tokens whose policy says
 * `format: 'jwt'` (RFC 9068). The record is still the source of truth: the JWT's `jti` is a
 * fresh opaque reference, and the store keys the record by a hash of that reference, so a JWT
 * stays revocable and introspectable (SPEC §3.3). The hash is domain-separated from opaque
 * values, so a `jti` seen in a log can't be replayed as an opaque token.
 */
import { createPublicKey, KeyObject, type webcrypto } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import { hashTokenValue } from '../crypto/token-value.js';
import type { JwtOptions } from './options.js';

/** Store hash of the reference carried in a JWT's `jti`. */
export function jwtReferenceHash(reference: string): string {
  return hashTokenValue(`jwt:${reference}`);
}

/** True for the compact serialization of a JWS (opaque values are base64url, without dots). */
export function looksLikeJwt(value: string): boolean {
  return value.startsWith('eyJ') && value.split('.').length === 3;
}

export class JwtCodec {
  readonly #o: JwtOptions;
  readonly #publicKey: KeyObject;

  constructor(options: JwtOptions) {
    this.#o = options;
    const key = options.privateKey instanceof KeyObject ? options.privateKey : KeyObject.from(options.privateKey as webcrypto.CryptoKey);
    this.#publicKey = createPublicKey(key);
  }

  get issuer(): string {
    return this.#o.issuer;
  }

  /** Signs claims; `typ` is `JWT` for ID tokens and `at+jwt` for access tokens (RFC 9068 §2.1). */
  sign(claims: Record<string, unknown>, typ: 'JWT' | 'at+jwt'): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: this.#o.alg, typ, ...(this.#o.kid !== undefined && { kid: this.#o.kid }) })
      .setIssuer(this.#o.issuer)
      .sign(this.#o.privateKey);
  }

  /**
   * The reference of a JWT we signed, or undefined. Only the signature and issuer are checked
   * here: an expired JWT still resolves to its record, which then reports `expired` (B-42).
   */
  async reference(value: string): Promise<string | undefined> {
    try {
      const { payload } = await compactVerify(value, this.#publicKey, { algorithms: [this.#o.alg] });
      const claims: unknown = JSON.parse(new TextDecoder().decode(payload));
      if (claims === null || typeof claims !== 'object') return undefined;
      const { iss, jti } = claims as { iss?: unknown; jti?: unknown };
      return iss === this.#o.issuer && typeof jti === 'string' ? jti : undefined;
    } catch {
      return undefined;
    }
  }
}
