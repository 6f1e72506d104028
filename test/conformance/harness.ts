/**
 * Shared test fixtures: fixed secrets, a controllable clock, a manager factory, typed-error
 * assertions and a canonical form of dumps (record order is a store's business, not the contract).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { generateKeyPair } from 'jose';
import { OidcSessionsError } from '../../src/errors.js';
import { routeOfValue } from '../../src/crypto/token-value.js';
import { resolveOptions, type JwtOptions } from '../../src/manager/options.js';
import { SessionManager } from '../../src/manager/session-manager.js';
import type { SessionManagerOptions } from '../../src/manager/options.js';
import type { SessionStore, TreeDump } from '../../src/store/store.js';

/** Fixed secrets: two managers built with them share session ids, routes and `sub` values. */
export const SESSION_ID_KEY = Buffer.alloc(32, 7);
export const OLD_SESSION_ID_KEY = Buffer.alloc(32, 9);
export const SUBJECT_SALT = Buffer.alloc(32, 3);
export const SECRETS = {
  sessionIdKeys: [
    { kid: 'k2', key: SESSION_ID_KEY },
    { kid: 'k1', key: OLD_SESSION_ID_KEY },
  ],
  subjectSalt: SUBJECT_SALT,
} as const;

const ROUTE_MASK_KEY = resolveOptions({ secrets: SECRETS, logger: { warn: () => {} } }).routeMaskKey;
/**
 * The route of a token value's owner, as a manager with {@link SECRETS} reads it from the value
 * (the prefix is masked): what tests that call a sharded store directly must pass it.
 */
export function routeOfToken(value: string): string {
  return routeOfValue(value, ROUTE_MASK_KEY);
}

/** Every spelling of the key material a dump must not contain. */
export const SECRET_SPELLINGS: readonly string[] = [SESSION_ID_KEY, OLD_SESSION_ID_KEY, SUBJECT_SALT].flatMap((b) => [
  b.toString('base64url'),
  b.toString('base64'),
  b.toString('hex'),
]);

/**
 * A clock the tests move by hand. It starts at the real time (rounded to the second) and only
 * moves forward, so a store that derives TTLs from record expiry (Redis) never sees records
 * that are already in the past when written.
 */
export class TestClock {
  now = Math.floor(Date.now() / 1000) * 1000;
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
  advanceSeconds(s: number): void {
    this.now += s * 1000;
  }
}

/** A manager on `store` with fixed secrets and the given clock; warnings are collected, not printed. */
export function makeManager(store: SessionStore | undefined, clock: TestClock, extra: SessionManagerOptions = {}): SessionManager {
  return new SessionManager({
    secrets: SECRETS,
    clock: clock.read,
    logger: { warn: () => {} },
    ...(store && { store }),
    ...extra,
  });
}

/** A PKCE verifier (RFC 7636 §4.1) and its S256 challenge (§4.2). */
export const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXk-RAGkk-0123';
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

export const REDIRECT = 'https://app.example/cb';

/** An authorization request as an authorization endpoint would store it. */
export function authRequest(clientId: string, scope = 'openid offline_access', responseType = 'code'): Record<string, unknown> {
  return { client_id: clientId, response_type: responseType, scope, redirect_uri: REDIRECT, state: 'xyz' };
}

/** Creates a grant for (userId, clientId) with the usual request. */
export function newSession(m: SessionManager, userId: string, clientId: string, scope = 'openid offline_access'): Promise<string> {
  return m.createSession({
    userId,
    authnEvent: { authnInfo: 'urn:acr:pwd', amr: ['pwd'], validFor: 3600 },
    authRequest: authRequest(clientId, scope),
  });
}

/** Code → access + refresh token for (userId, clientId); returns every value and the session id. */
export async function codeFlow(m: SessionManager, userId: string, clientId: string, scope = 'openid offline_access') {
  const sessionId = await newSession(m, userId, clientId, scope);
  const code = await m.mintToken(sessionId, 'authorization_code');
  const set = await m.redeemCode(code.value, { clientId });
  return { sessionId, code: code.value, codeRecord: code.token, access: set.accessToken.value, refresh: set.refreshToken?.value, set };
}

/**
 * Awaits `p` and checks it rejects with an instance of `cls` (never a TypeError or another
 * class); `check` may look at the error further. Returns the error.
 */
export async function rejectsWith<E extends OidcSessionsError>(
  p: Promise<unknown> | (() => Promise<unknown>),
  cls: new (...args: never[]) => E,
  check?: (e: E) => void,
): Promise<E> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected ${cls.name}, but the call succeeded`);
  assert.ok(err instanceof OidcSessionsError, `expected ${cls.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  assert.ok(err instanceof cls, `expected ${cls.name}, got ${(err as Error).name}: ${(err as Error).message}`);
  check?.(err as E);
  return err as E;
}

/** The dump with every record list in a fixed order, for comparisons across stores and reloads. */
export function canonicalDump(d: TreeDump): TreeDump {
  const by = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  const sortKeys = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortKeys);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) Object.defineProperty(o, k, { value: sortKeys((v as Record<string, unknown>)[k]), enumerable: true });
      return o;
    }
    return v;
  };
  return sortKeys({
    version: d.version,
    users: [...d.users].sort(by((u) => u.userId)),
    clients: [...d.clients].sort(by((c) => JSON.stringify([c.userId, c.clientId]))),
    grants: [...d.grants].sort(by((g) => g.id)),
    tokens: [...d.tokens].sort(by((t) => t.id)),
    markers: [...d.markers].sort(by((mk) => mk.hash)),
  }) as TreeDump;
}

/** Record counts of a dump. */
export function dumpCounts(d: TreeDump): { users: number; clients: number; grants: number; tokens: number; markers: number } {
  return { users: d.users.length, clients: d.clients.length, grants: d.grants.length, tokens: d.tokens.length, markers: d.markers.length };
}

/** Hostile ids (SPEC §3.1, B-01..B-03, field fault 19). */
export const HOSTILE_IDS: readonly string[] = [
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'toString',
  'a;;b',
  'a',
  'b;;c',
  'client ',
  'client',
  'client  ',
  ' lead',
  'nul\u0000byte',
  '\u0000',
  'ünïcødé-用户-🙂',
  'a:b',
  'x'.repeat(2048),
  'é'.repeat(2048),
];

/** A snapshot of Object.prototype's own keys, to detect pollution. */
export function prototypeSnapshot(): string[] {
  return Reflect.ownKeys(Object.prototype).map(String).sort();
}

let jwtKey: Promise<JwtOptions> | undefined;
/** ID-token signing options (one ES256 key per test run). */
export function jwtOptions(): Promise<JwtOptions> {
  jwtKey ??= generateKeyPair('ES256').then(({ privateKey }) => ({ issuer: 'https://op.example', privateKey, alg: 'ES256' as const, kid: 'test' }));
  return jwtKey;
}

/**
 * Purges until two consecutive calls remove nothing. One call is bounded and may end inside a
 * stretch of live records (returning 0 although expired records remain further on), so a
 * single 0 does not mean the sweep is complete.
 */
export async function purgeAll(m: SessionManager): Promise<number> {
  let removed = 0;
  let idle = 0;
  for (let i = 0; idle < 2; i++) {
    if (i > 10_000) throw new Error('purge does not finish');
    const n = await m.purgeExpired({ limit: 1_000_000 });
    removed += n;
    idle = n === 0 ? idle + 1 : 0;
  }
  return removed;
}
