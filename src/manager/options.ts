/**
 * Configuration of a {@link SessionManager}, validated once at construction.
 */
import { hkdfSync, KeyObject, randomBytes, type webcrypto } from 'node:crypto';
import { InvalidInput } from '../errors.js';
import type { SessionIdKey } from '../crypto/session-id.js';
import type { SessionStore, ReusePolicy } from '../store/store.js';
import { MemoryStore } from '../store/memory-store.js';
import type { UsageRules } from '../tree/records.js';
import { DEFAULT_USAGE_RULES, MAX_LIFETIME_SECONDS, normalizeRuleTable } from '../tree/usage-rules.js';
import { requirePlainObject } from '../tree/validate.js';

/** Secret material. Configure it in production: without it ids and `sub` die with the process (B-10). */
export interface SessionSecrets {
  /**
   * Session-id key ring: 32-byte keys (bytes or base64url) with public key ids. The first
   * seals new ids; all open ids they sealed, so keys can be rotated by prepending.
   */
  readonly sessionIdKeys: ReadonlyArray<{ readonly kid: string; readonly key: Uint8Array | string }>;
  /**
   * Salt of the `sub` HMAC (≥ 32 bytes). Also the root from which the route, route-mask and `sid`
   * keys are derived (HKDF), so changing it changes `sub`, `sid`, routes and the routes read from
   * token values together — never rotate it casually.
   */
  readonly subjectSalt: Uint8Array | string;
}

/** Signs ID tokens (and logout tokens in the examples) with `jose`. */
export interface JwtOptions {
  /** The `iss` claim. */
  readonly issuer: string;
  /** Private key as a `CryptoKey` or `KeyObject` (from jose's `importJWK` / `generateKeyPair`). */
  readonly privateKey: import('node:crypto').webcrypto.CryptoKey | import('node:crypto').KeyObject;
  readonly alg: 'ES256' | 'ES384' | 'EdDSA' | 'RS256' | 'PS256';
  readonly kid?: string;
}

export interface RefreshPolicy {
  /** Rotate on every use (default true). */
  readonly rotate?: boolean;
  /** A reuse within this many seconds of the first use revokes nothing (default 5; 0 disables). */
  readonly graceSeconds?: number;
  /** Absolute lifetime of a rotation chain in seconds (default 365 days). */
  readonly absoluteLifetime?: number;
}

export interface SessionManagerOptions {
  /**
   * Where the tree lives. Default: a new {@link MemoryStore}. One store per issuer: a store
   * object already used (in this process) by a manager with another `subjectSalt` is refused.
   * Through any store (a wrapper, another process, a loaded dump), a token minted under another
   * `subjectSalt` is unknown: lookups check the owner's route.
   */
  readonly store?: SessionStore;
  readonly secrets?: SessionSecrets;
  /** Per-class usage rules (lifetime in seconds, max usage, what it may mint), over the defaults. */
  readonly tokenPolicies?: Readonly<Record<string, Partial<UsageRules>>>;
  /** Grant lifetime in seconds (default 14 days). */
  readonly grantLifetime?: number;
  readonly refresh?: RefreshPolicy;
  /** What a reused code or refresh token revokes (default `'grant'`, as RFC 6749 §4.1.2 suggests). */
  readonly reusePolicy?: { readonly code?: ReusePolicy; readonly refresh?: ReusePolicy };
  /** ID token signing. Without it `redeemCode` and `refresh` issue no ID tokens. */
  readonly jwt?: JwtOptions;
  /** Clock in milliseconds (tests). */
  readonly clock?: () => number;
  /** Where warnings go (default `console`). Never receives secrets or token values. */
  readonly logger?: { warn(message: string): void };
}

export interface ResolvedOptions {
  readonly store: SessionStore;
  readonly sessionIdKeys: readonly SessionIdKey[];
  readonly subjectSalt: Uint8Array;
  readonly routeKey: Uint8Array;
  /** Masks the route in token values (token-value.ts); base64url, as the hash input wants it. */
  readonly routeMaskKey: string;
  readonly sidKey: Uint8Array;
  readonly rules: Readonly<Record<string, UsageRules>>;
  readonly grantLifetimeMs: number;
  readonly rotate: boolean;
  readonly graceMs: number;
  readonly chainLifetimeMs: number;
  readonly codeReuse: ReusePolicy;
  readonly refreshReuse: ReusePolicy;
  readonly jwt: JwtOptions | undefined;
  readonly clock: () => number;
}

function bytes(v: Uint8Array | string, name: string, min: number): Uint8Array {
  // Most often an unset environment variable: say so rather than "too short".
  if (v === undefined || v === null || v === '') throw new InvalidInput(`${name} is missing (${min} random bytes, or a base64url string of them)`);
  const b = typeof v === 'string' ? Buffer.from(v, 'base64url') : v;
  if (!(b instanceof Uint8Array) || b.length < min) throw new InvalidInput(`${name} must be at least ${min} bytes`);
  return Uint8Array.from(b);
}

function seconds(v: unknown, name: string, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > MAX_LIFETIME_SECONDS) {
    throw new InvalidInput(`${name} must be a number of seconds from ${min} to ${MAX_LIFETIME_SECONDS}`);
  }
  return v;
}

/** The keys of `T` that are not optional. */
type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/** Every required method of {@link SessionStore}; the `satisfies` keeps the list complete as the contract grows. */
const STORE_METHODS = Object.keys({
  createGrant: 0, getUser: 0, getClient: 0, getGrant: 0, listGrants: 0, listTokens: 0, findToken: 0, addTokens: 0, consume: 0,
  revokeGrant: 0, revokeClient: 0, revokeToken: 0, logoutUser: 0, addBrowserSession: 0, removeBrowserSession: 0, remove: 0,
  purgeExpired: 0, dump: 0, load: 0,
} satisfies Record<RequiredKeys<SessionStore>, 0>) as ReadonlyArray<keyof SessionStore>;

/** A store of the wrong shape would fail at the first call, with a TypeError. */
function checkedStore(store: unknown): SessionStore {
  if (store === null || typeof store !== 'object') throw new InvalidInput('store must be a SessionStore');
  for (const k of STORE_METHODS) {
    if (typeof (store as Record<string, unknown>)[k] !== 'function') throw new InvalidInput(`store must be a SessionStore (no method ${k})`);
  }
  return store as SessionStore;
}

function checkedLogger(logger: unknown): { warn(message: string): void } {
  if (logger === null || typeof logger !== 'object' || typeof (logger as { warn?: unknown }).warn !== 'function') {
    throw new InvalidInput('logger must be an object with a warn(message) method');
  }
  return logger as { warn(message: string): void };
}

function policy(v: unknown, name: string): ReusePolicy {
  if (v === undefined) return 'grant';
  if (v !== 'grant' && v !== 'descendants' && v !== 'none') throw new InvalidInput(`${name} must be grant, descendants or none`);
  return v;
}

export function resolveOptions(options: SessionManagerOptions = {}): ResolvedOptions {
  // Own properties only, here and in every nested options object (see requirePlainObject).
  const o = requirePlainObject(options, 'options') as SessionManagerOptions;
  const logger = o.logger === undefined ? console : checkedLogger(o.logger);
  const store = o.store === undefined ? new MemoryStore() : checkedStore(o.store);
  let secrets = o.secrets === undefined ? undefined : (requirePlainObject(o.secrets, 'secrets') as unknown as SessionSecrets);
  if (!secrets) {
    logger.warn(
      'oidc-sessions: no secrets configured — using random keys. Session ids, tokens and `sub` values ' +
        'will not survive a restart or work across processes. Configure `secrets` in production.',
    );
    secrets = { sessionIdKeys: [{ kid: 'dev', key: randomBytes(32) }], subjectSalt: randomBytes(32) };
  }
  if (!Array.isArray(secrets.sessionIdKeys)) throw new InvalidInput('secrets.sessionIdKeys must be an array');
  // Array.from turns holes of a sparse array into undefined, which the check below refuses.
  const sessionIdKeys = Array.from(secrets.sessionIdKeys, (k, i) => {
    if (k === null || typeof k !== 'object') throw new InvalidInput('secrets.sessionIdKeys entries must be { kid, key } objects');
    return { kid: k.kid, key: bytes(k.key, `secrets.sessionIdKeys[${i}].key`, 32) };
  });
  const subjectSalt = bytes(secrets.subjectSalt, 'secrets.subjectSalt', 32);
  const derive = (info: string) => new Uint8Array(hkdfSync('sha256', subjectSalt, new Uint8Array(0), info, 32));
  const refresh = (o.refresh === undefined ? {} : requirePlainObject(o.refresh, 'refresh')) as RefreshPolicy;
  const reusePolicy = (o.reusePolicy === undefined ? {} : requirePlainObject(o.reusePolicy, 'reusePolicy')) as NonNullable<SessionManagerOptions['reusePolicy']>;
  const rotate = refresh.rotate ?? true;
  let rules = normalizeRuleTable(o.tokenPolicies, DEFAULT_USAGE_RULES, 'tokenPolicies');
  const explicitMaxUsage = o.tokenPolicies?.refresh_token !== undefined && Object.hasOwn(o.tokenPolicies.refresh_token, 'maxUsage');
  if (!rotate && !explicitMaxUsage) {
    // Without rotation a refresh token is reusable until it expires (unless a maxUsage was configured explicitly).
    const { maxUsage: _ignored, ...rt } = rules.refresh_token!;
    rules = Object.freeze({ ...rules, refresh_token: Object.freeze(rt) });
  }
  return {
    store,
    sessionIdKeys,
    subjectSalt,
    routeKey: derive('oidc-sessions/route'),
    routeMaskKey: Buffer.from(derive('oidc-sessions/route-mask')).toString('base64url'),
    sidKey: derive('oidc-sessions/sid'),
    rules,
    grantLifetimeMs: seconds(o.grantLifetime, 'grantLifetime', 14 * 86400, 1) * 1000,
    rotate,
    graceMs: seconds(refresh.graceSeconds, 'refresh.graceSeconds', 5) * 1000,
    chainLifetimeMs: seconds(refresh.absoluteLifetime, 'refresh.absoluteLifetime', 365 * 86400, 1) * 1000,
    codeReuse: policy(reusePolicy.code, 'reusePolicy.code'),
    refreshReuse: policy(reusePolicy.refresh, 'reusePolicy.refresh'),
    jwt: o.jwt === undefined ? undefined : checkJwtOptions(o.jwt),
    clock: checkedClock(o.clock),
  };
}

/** Curve or key type each supported `alg` needs (RFC 7518 §3). */
const KEY_TYPE_OF_ALG: Readonly<Record<JwtOptions['alg'], (k: KeyObject) => boolean>> = {
  ES256: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'prime256v1',
  ES384: (k) => k.asymmetricKeyType === 'ec' && k.asymmetricKeyDetails?.namedCurve === 'secp384r1',
  EdDSA: (k) => k.asymmetricKeyType === 'ed25519' || k.asymmetricKeyType === 'ed448',
  RS256: (k) => k.asymmetricKeyType === 'rsa' && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048,
  PS256: (k) => (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') && (k.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048,
};

/** Refuses at construction what would otherwise fail at every token exchange. */
function checkJwtOptions(options: JwtOptions): JwtOptions {
  const jwt = requirePlainObject(options, 'jwt') as unknown as JwtOptions;
  if (typeof jwt.issuer !== 'string' || jwt.issuer.length === 0) throw new InvalidInput('jwt.issuer must be a non-empty string');
  if (!Object.hasOwn(KEY_TYPE_OF_ALG, jwt.alg)) throw new InvalidInput(`jwt.alg must be one of ${Object.keys(KEY_TYPE_OF_ALG).join(', ')}`);
  if (jwt.kid !== undefined && (typeof jwt.kid !== 'string' || jwt.kid.length === 0)) throw new InvalidInput('jwt.kid must be a non-empty string');
  let key: KeyObject;
  try {
    key = jwt.privateKey instanceof KeyObject ? jwt.privateKey : KeyObject.from(jwt.privateKey as webcrypto.CryptoKey);
  } catch {
    throw new InvalidInput('jwt.privateKey must be a KeyObject or CryptoKey');
  }
  if (key.type !== 'private') throw new InvalidInput('jwt.privateKey must be a private key');
  if (!KEY_TYPE_OF_ALG[jwt.alg](key)) throw new InvalidInput(`jwt.privateKey does not fit alg ${jwt.alg}`);
  return jwt;
}

/** A clock that returns anything but a finite number would make tokens that never expire. */
function checkedClock(clock: (() => number) | undefined): () => number {
  if (clock === undefined) return Date.now;
  if (typeof clock !== 'function') throw new InvalidInput('clock must be a function');
  return () => {
    const t = clock();
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new InvalidInput('clock returned a non-finite time');
    return t;
  };
}
