/**
 * The demo user directory: usernames, passwords and profile claims from a JSON file. A real
 * deployment replaces this with its account system; the provider only needs `verify` and
 * `claimsFor`. Passwords here are plain demo values compared in constant time.
 */
import { secretsEqual } from './clients.js';

export interface DemoUser {
  readonly username: string;
  readonly password: string;
  /** Standard claims (OIDC Core §5.1): name, email, … — never `sub`, which the library computes. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Which claims each scope releases (OIDC Core §5.4). */
export const SCOPE_CLAIMS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
    'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
});

export class UserConfigError extends Error {
  override name = 'UserConfigError';
}

/** Validates a users file (a JSON array of `{username, password, claims}`). */
export function parseUsers(input: unknown): DemoUser[] {
  if (!Array.isArray(input)) throw new UserConfigError('the users file must hold a JSON array of users');
  const seen = new Set<string>();
  return input.map((u, i) => {
    if (u === null || typeof u !== 'object' || Array.isArray(u)) throw new UserConfigError(`users[${i}] must be an object`);
    const r = u as Record<string, unknown>;
    const username = Object.hasOwn(r, 'username') ? r.username : undefined;
    const password = Object.hasOwn(r, 'password') ? r.password : undefined;
    const claims = Object.hasOwn(r, 'claims') ? r.claims : {};
    if (typeof username !== 'string' || username.length === 0 || username.length > 256) {
      throw new UserConfigError(`users[${i}].username must be a non-empty string`);
    }
    if (typeof password !== 'string' || password.length === 0) throw new UserConfigError(`users[${i}].password must be a non-empty string`);
    if (claims === null || typeof claims !== 'object' || Array.isArray(claims)) throw new UserConfigError(`users[${i}].claims must be an object`);
    if (Object.hasOwn(claims, 'sub')) throw new UserConfigError(`users[${i}].claims must not set sub (the provider computes it)`);
    if (seen.has(username)) throw new UserConfigError(`username ${JSON.stringify(username)} appears twice`);
    seen.add(username);
    return Object.freeze({ username, password, claims: Object.freeze({ ...(claims as Record<string, unknown>) }) });
  });
}

export class UserDirectory {
  readonly #users: ReadonlyMap<string, DemoUser>;

  constructor(users: readonly DemoUser[]) {
    this.#users = new Map(users.map((u) => [u.username, u]));
  }

  /** The user when the password matches; the same work is done for unknown usernames. */
  verify(username: string, password: string): DemoUser | undefined {
    const user = this.#users.get(username);
    const ok = secretsEqual(password, user?.password ?? '\u0000no such user');
    return ok && user ? user : undefined;
  }

  get(username: string): DemoUser | undefined {
    return this.#users.get(username);
  }

  /** The user's claims released by `scopes`. */
  claimsFor(username: string, scopes: readonly string[]): Record<string, unknown> {
    const user = this.#users.get(username);
    const out: Record<string, unknown> = {};
    if (!user) return out;
    for (const scope of scopes) {
      const names = Object.hasOwn(SCOPE_CLAIMS, scope) ? SCOPE_CLAIMS[scope]! : [];
      for (const n of names) if (Object.hasOwn(user.claims, n)) out[n] = user.claims[n];
    }
    return out;
  }

  /** A display name for pages. */
  displayName(username: string): string {
    const name = this.#users.get(username)?.claims.name;
    return typeof name === 'string' ? name : username;
  }
}
