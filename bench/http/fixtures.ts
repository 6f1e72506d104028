/**
 * Our side of the side-by-side benchmark, configured like the peer (bench/peer/constants.ts,
 * bench/peer/provider.ts): the same confidential client (id, secret, redirect URI,
 * `client_secret_basic`, authorization_code + refresh_token), the same TTLs, the same scope,
 * accounts `user-0` … `user-999` with the same claims, ES256 ID tokens, refresh tokens rotating
 * on every use (our default).
 *
 * `loginAndCode` leaves in the tree exactly what the example provider's login + authorize +
 * consent leave (examples/provider/routes/authorize.ts → request-sessions.ts `login`,
 * `authorize`, `issueCode`), without the HTTP and the browser cookie around them.
 */
import type { SessionManager, SessionManagerOptions } from '../../src/index.js';
import type { ClientRegistration } from '../../examples/provider/clients.js';
import type { DemoUser } from '../../examples/provider/users.js';
import { ACR, AMR, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, SCOPE, TTL, USERS } from '../peer/constants.js';

/** The peer's TTLs as our per-class usage rules (seconds) and grant lifetime. */
export const MANAGER_OPTIONS = {
  tokenPolicies: {
    authorization_code: { expiresIn: TTL.AuthorizationCode },
    access_token: { expiresIn: TTL.AccessToken },
    id_token: { expiresIn: TTL.IdToken },
    refresh_token: { expiresIn: TTL.RefreshToken },
  },
  grantLifetime: TTL.Grant,
  refresh: { rotate: true },
} as const satisfies Pick<SessionManagerOptions, 'tokenPolicies' | 'grantLifetime' | 'refresh'>;

/** Browser login lifetime: the peer's Session TTL. */
export const LOGIN_SECONDS = TTL.Session;

export const BENCH_CLIENT: ClientRegistration = {
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  client_name: 'Bench client',
  redirect_uris: [REDIRECT_URI],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'client_secret_basic',
};

/** `user-<n>` with the claims the peer's findAccount returns (no I/O on lookup either). */
export function benchUsers(): DemoUser[] {
  return Array.from({ length: USERS }, (_, i) => {
    const sub = `user-${i}`;
    return {
      username: sub,
      password: `bench-password-${i}`,
      claims: { email: `${sub}@bench.invalid`, email_verified: true, name: `Bench ${sub}`, given_name: 'Bench', family_name: sub },
    };
  });
}

export const SCOPES: readonly string[] = SCOPE.split(' ');

/** A finished login of one browser: its browser session and the authentication event. */
export interface BrowserLogin {
  readonly userId: string;
  readonly browserSessionId: string;
  readonly authnEvent: { authnInfo: string; amr: string[]; authnTime: number; validUntil: number };
}

/** What `req.oidcSessions.login()` writes to the tree: a browser session for the user. */
export async function browserLogin(manager: SessionManager, userId: string, validFor = LOGIN_SECONDS): Promise<BrowserLogin> {
  const authnTime = Date.now();
  const browserSessionId = await manager.startBrowserSession(userId, { validFor });
  return { userId, browserSessionId, authnEvent: { authnInfo: ACR, amr: [...AMR], authnTime, validUntil: authnTime + validFor * 1000 } };
}

/**
 * One logged-in browser per user, made on first use and reused: the load is spread over 1000
 * users as the peer spreads it over 1000 accounts, and a user record keeps its browser sessions,
 * so one login per code would give each user hundreds of browsers (the peer's Session per code
 * costs it nothing later: offline_access tokens never load their Session).
 */
export class LoggedInBrowsers {
  readonly #logins = new Map<string, Promise<BrowserLogin>>();

  constructor(readonly manager: SessionManager) {}

  of(userId: string): Promise<BrowserLogin> {
    let login = this.#logins.get(userId);
    if (!login) this.#logins.set(userId, (login = browserLogin(this.manager, userId)));
    return login;
  }
}

/** What `req.oidcSessions.authorize()` writes after consent: a new grant bound to the browser session. */
export function consent(manager: SessionManager, login: BrowserLogin): Promise<string> {
  return manager.createSession({
    userId: login.userId,
    clientId: CLIENT_ID,
    authRequest: { client_id: CLIENT_ID, response_type: 'code', scope: SCOPE, redirect_uri: REDIRECT_URI },
    authnEvent: login.authnEvent,
    scopes: SCOPES,
    browserSessionId: login.browserSessionId,
    subType: 'public',
  });
}

/** What `req.oidcSessions.issueCode()` writes: a code bound to the redirect URI (and nonce), minted from the grant. */
export async function issueCode(manager: SessionManager, sessionId: string, login: BrowserLogin, nonce?: string): Promise<string> {
  const code = await manager.mintToken(sessionId, 'authorization_code', {
    browserSessionId: login.browserSessionId,
    codeBinding: { redirectUri: REDIRECT_URI, ...(nonce !== undefined && { nonce }) },
    scope: SCOPES,
  });
  return code.value;
}
