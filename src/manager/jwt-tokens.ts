/**
 * Token values that are JWTs: ID tokens (always) and access tokens whose policy says
 * `format: 'jwt'` (RFC 9068). The record is still the source of truth: the JWT's `jti` is a
 * fresh opaque reference, and the store keys the record by a hash of that reference, so a JWT
 * stays revocable and introspectable (SPEC §3.3). The hash is domain-separated from opaque
 * values, so a `jti` seen in a log can't be replayed as an opaque token.
 */
import { constants, createPublicKey, KeyObject, sign, verify, type SignKeyObjectInput, type VerifyKeyObjectInput, type webcrypto } from 'node:crypto';
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

/** How node:crypto makes the JWS signature of each supported `alg` (RFC 7518 §3.3–3.5, RFC 8037 §3.1). */
interface SignatureScheme {
  /** The digest for `crypto.sign` (null: EdDSA hashes internally). */
  readonly digest: string | null;
  /** The key with the options of the scheme; the same for signing (private) and verifying (public). */
  readonly key: (k: KeyObject) => KeyObject | (SignKeyObjectInput & VerifyKeyObjectInput);
  /**
   * RSA signatures take a few hundred µs: they go to the libuv thread pool so one token does not
   * stall every other request. EC and EdDSA (tens of µs) are cheaper signed in place than the
   * hand-off to the pool costs.
   */
  readonly offThread: boolean;
}

const SCHEMES: Readonly<Record<JwtOptions['alg'], SignatureScheme>> = {
  // JWS wants the raw r‖s pair (RFC 7518 §3.4), not the DER that OpenSSL produces by default.
  ES256: { digest: 'sha256', key: (key) => ({ key, dsaEncoding: 'ieee-p1363' }), offThread: false },
  ES384: { digest: 'sha384', key: (key) => ({ key, dsaEncoding: 'ieee-p1363' }), offThread: false },
  EdDSA: { digest: null, key: (key) => key, offThread: false },
  RS256: { digest: 'sha256', key: (key) => ({ key, padding: constants.RSA_PKCS1_PADDING }), offThread: true },
  // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
  PS256: { digest: 'sha256', key: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }), offThread: true },
};

const base64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/** Three non-empty base64url segments, no padding, nothing else (RFC 7515 §7.1, §2). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** JSON of a base64url segment, or undefined when it is not JSON. */
function decodeJson(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Signs and recognises the JWTs of one issuer. Signing is node:crypto on a KeyObject (about a
 * third of the CPU of jose's WebCrypto path for ES256, measured in bench/http); the compact
 * serialization it produces is the one jose would (RFC 7515 §7.1), and tests verify it with jose.
 */
export class JwtCodec {
  readonly #o: JwtOptions;
  readonly #publicKey: KeyObject;
  readonly #scheme: SignatureScheme;
  readonly #signingKey: KeyObject | SignKeyObjectInput;
  readonly #verifyingKey: KeyObject | VerifyKeyObjectInput;
  /** The two protected headers we ever write, encoded once (they never change for a codec). */
  readonly #headers: Readonly<Record<'JWT' | 'at+jwt', string>>;

  constructor(options: JwtOptions) {
    this.#o = options;
    const key = options.privateKey instanceof KeyObject ? options.privateKey : KeyObject.from(options.privateKey as webcrypto.CryptoKey);
    this.#publicKey = createPublicKey(key);
    this.#scheme = SCHEMES[options.alg];
    this.#signingKey = this.#scheme.key(key);
    this.#verifyingKey = this.#scheme.key(this.#publicKey);
    const header = (typ: string) => base64urlJson({ alg: options.alg, typ, ...(options.kid !== undefined && { kid: options.kid }) });
    this.#headers = { JWT: header('JWT'), 'at+jwt': header('at+jwt') };
  }

  get issuer(): string {
    return this.#o.issuer;
  }

  /** Signs claims; `typ` is `JWT` for ID tokens and `at+jwt` for access tokens (RFC 9068 §2.1). */
  async sign(claims: Record<string, unknown>, typ: 'JWT' | 'at+jwt'): Promise<string> {
    const input = `${this.#headers[typ]}.${base64urlJson({ ...claims, iss: this.#o.issuer })}`;
    const data = Buffer.from(input, 'latin1'); // base64url and '.': ASCII
    const { digest, offThread } = this.#scheme;
    const signature = offThread
      ? await new Promise<Buffer>((resolve, reject) => sign(digest, data, this.#signingKey, (e, s) => (e ? reject(e) : resolve(s))))
      : sign(digest, data, this.#signingKey);
    return `${input}.${signature.toString('base64url')}`;
  }

  /**
   * The reference of a JWT we signed, or undefined. Only the signature and issuer are checked
   * here: an expired JWT still resolves to its record, which then reports `expired` (B-42).
   *
   * Stricter than a general JWS library, since only our own tokens need to pass: the `alg` is
   * pinned to ours (no `none`, no HMAC keyed with the public key, no other curve), a header with
   * `crit` or `b64` (RFC 7797) is refused rather than interpreted, every segment must be plain
   * base64url and the signature its canonical encoding, so one token has one spelling.
   */
  async reference(value: string): Promise<string | undefined> {
    if (typeof value !== 'string' || !COMPACT_JWS.test(value)) return undefined;
    const firstDot = value.indexOf('.');
    const lastDot = value.lastIndexOf('.');
    const header = value.slice(0, firstDot);
    if (header !== this.#headers.JWT && header !== this.#headers['at+jwt'] && !this.#acceptableHeader(decodeJson(header))) return undefined;
    const signatureSegment = value.slice(lastDot + 1);
    const signature = Buffer.from(signatureSegment, 'base64url');
    if (signature.toString('base64url') !== signatureSegment) return undefined;
    let valid: boolean;
    try {
      valid = verify(this.#scheme.digest, Buffer.from(value.slice(0, lastDot), 'latin1'), this.#verifyingKey, signature);
    } catch {
      return undefined; // a signature OpenSSL cannot even parse
    }
    if (!valid) return undefined;
    const claims = decodeJson(value.slice(firstDot + 1, lastDot));
    if (!isRecord(claims)) return undefined;
    const { iss, jti } = claims;
    return iss === this.#o.issuer && typeof jti === 'string' ? jti : undefined;
  }

  /**
   * A protected header other than the two we write now (say, from before a `kid` change): it
   * must name our `alg` and carry nothing that would change how the token is read.
   */
  #acceptableHeader(header: unknown): boolean {
    return isRecord(header) && header.alg === this.#o.alg && !Object.hasOwn(header, 'crit') && !Object.hasOwn(header, 'b64');
  }
}
