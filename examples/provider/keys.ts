/**
 * The provider's secrets: the session-id key ring, the subject salt, the express-session cookie
 * secrets and the ES256 signing key. Each comes from the environment when set; otherwise from
 * a git-ignored keys file, generated (mode 0600) at first start. Without stable secrets every
 * session id, `sub` and signature would change at each restart.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export interface ProviderKeys {
  /** Session-id key ring (SPEC §3.1): the first seals, all open. Keys are base64url, 32 bytes. */
  readonly sessionIdKeys: ReadonlyArray<{ readonly kid: string; readonly key: string }>;
  /** Salt of `sub` (and root of `sid`), base64url, ≥ 32 bytes. */
  readonly subjectSalt: string;
  /** express-session cookie secrets: the first signs, all verify. */
  readonly cookieSecrets: readonly string[];
  /** The private EC P-256 JWK that signs ID tokens and logout tokens (ES256), with `kid`. */
  readonly signingKey: JWK;
}

/** Fresh secrets (for the first start, and for tests). */
export async function generateKeys(): Promise<ProviderKeys> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = randomBytes(9).toString('base64url');
  return {
    sessionIdKeys: [{ kid: `k-${new Date().toISOString().slice(0, 10)}`, key: randomBytes(32).toString('base64url') }],
    subjectSalt: randomBytes(32).toString('base64url'),
    cookieSecrets: [randomBytes(32).toString('base64url')],
    signingKey: { ...jwk, kid, alg: 'ES256', use: 'sig' },
  };
}

export class KeysConfigError extends Error {
  override name = 'KeysConfigError';
}

function base64urlBytes(value: string, name: string, min: number): string {
  if (!/^[A-Za-z0-9_-]+$/.test(value) || Buffer.from(value, 'base64url').length < min) {
    throw new KeysConfigError(`${name} must be base64url of at least ${min} bytes`);
  }
  return value;
}

/** `kid:key,kid:key` → key ring (SESSION_ID_KEYS). */
function parseKeyRing(value: string): ProviderKeys['sessionIdKeys'] {
  const ring = value.split(',').map((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new KeysConfigError(`SESSION_ID_KEYS entry ${i} must be kid:base64url-key`);
    return { kid: entry.slice(0, colon).trim(), key: base64urlBytes(entry.slice(colon + 1).trim(), `SESSION_ID_KEYS entry ${i}`, 32) };
  });
  if (ring.length === 0) throw new KeysConfigError('SESSION_ID_KEYS is empty');
  return ring;
}

function parseSigningKey(value: string, where: string): JWK {
  let jwk: unknown;
  try {
    jwk = JSON.parse(value);
  } catch {
    throw new KeysConfigError(`${where} must be a JSON Web Key`);
  }
  const k = jwk as JWK;
  if (k === null || typeof k !== 'object' || k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.d !== 'string') {
    throw new KeysConfigError(`${where} must be a private EC P-256 JWK (ES256)`);
  }
  return { ...k, alg: 'ES256', use: 'sig', kid: typeof k.kid === 'string' && k.kid ? k.kid : 'es256' };
}

function checkKeys(k: ProviderKeys, where: string): ProviderKeys {
  if (!Array.isArray(k.sessionIdKeys) || k.sessionIdKeys.length === 0) throw new KeysConfigError(`${where}: sessionIdKeys missing`);
  k.sessionIdKeys.forEach((e, i) => base64urlBytes(e.key, `${where}: sessionIdKeys[${i}]`, 32));
  base64urlBytes(k.subjectSalt, `${where}: subjectSalt`, 32);
  if (!Array.isArray(k.cookieSecrets) || k.cookieSecrets.length === 0 || !k.cookieSecrets.every((s) => typeof s === 'string' && s.length >= 32)) {
    throw new KeysConfigError(`${where}: cookieSecrets must be strings of at least 32 characters`);
  }
  return { ...k, signingKey: parseSigningKey(JSON.stringify(k.signingKey), `${where}: signingKey`) };
}

/**
 * Loads the secrets. Environment variables win, one by one: `SESSION_ID_KEYS`
 * (`kid:base64url,…`), `SUBJECT_SALT` (base64url), `COOKIE_SECRETS` (comma-separated) and
 * `SIGNING_KEY` (private JWK JSON). Whatever the environment does not give comes from `file`,
 * which is created with fresh secrets when missing.
 */
export async function loadKeys(file: string, env: NodeJS.ProcessEnv, log: (m: string) => void = () => {}): Promise<ProviderKeys> {
  const fromEnv: Partial<ProviderKeys> = {
    ...(env.SESSION_ID_KEYS && { sessionIdKeys: parseKeyRing(env.SESSION_ID_KEYS) }),
    ...(env.SUBJECT_SALT && { subjectSalt: base64urlBytes(env.SUBJECT_SALT, 'SUBJECT_SALT', 32) }),
    ...(env.COOKIE_SECRETS && { cookieSecrets: env.COOKIE_SECRETS.split(',').map((s) => s.trim()) }),
    ...(env.SIGNING_KEY && { signingKey: parseSigningKey(env.SIGNING_KEY, 'SIGNING_KEY') }),
  };
  const complete = fromEnv.sessionIdKeys && fromEnv.subjectSalt && fromEnv.cookieSecrets && fromEnv.signingKey;
  let fromFile: ProviderKeys | undefined;
  if (!complete) {
    if (existsSync(file)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        throw new KeysConfigError(`${file} is not valid JSON`);
      }
      fromFile = checkKeys(parsed as ProviderKeys, file);
    } else {
      fromFile = await generateKeys();
      writeFileSync(file, JSON.stringify(fromFile, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
      log(`generated new secrets in ${file} (keep it private; it is git-ignored)`);
    }
  }
  return checkKeys({ ...fromFile!, ...fromEnv } as ProviderKeys, 'keys');
}
