/**
 * The per-request API that `oidcSessions()` attaches as `req.oidcSessions` (SPEC §7).
 * This file is the contract between the middleware and the apps built on it.
 */
import type { SessionManager } from '../manager/session-manager.js';
import type { LogoutNotice, MintedToken, UserSessions } from '../manager/results.js';
import type { AuthnEvent, GrantClaims, GrantRecord, SubjectType } from '../tree/records.js';

export interface OidcSessionsOptions {
  /** The manager that keeps the tree. */
  readonly manager: SessionManager;
  /** Default lifetime of a login in seconds when `login()` gets no `validFor` (default 8 hours). */
  readonly loginLifetime?: number;
  /**
   * Where the oidc part lives inside `req.session` (default `'oidc'`). Only this key is read
   * and written; the rest of the express session belongs to the app.
   */
  readonly sessionKey?: string;
  /**
   * The cookie options given to express-session, when the app wants the cookie policy checked
   * synchronously at start-up (`SameSite=None` without `Secure` is refused). Without it the
   * same check runs on the first request, against the cookie express-session built.
   */
  readonly cookie?: CookiePolicyInput;
  /** Clock in milliseconds (tests); pass the manager's clock. Default `Date.now`. */
  readonly clock?: () => number;
}

/** The cookie attributes the policy check reads (a subset of express-session's `cookie` option). */
export interface CookiePolicyInput {
  readonly secure?: boolean | 'auto';
  readonly sameSite?: boolean | 'lax' | 'strict' | 'none' | 'auto';
  readonly httpOnly?: boolean;
}

export interface LogoutOptions {
  /** Log the user out of every browser, not only this one (default false). */
  readonly everywhere?: boolean;
  /**
   * Tokens minted under `offline_access` survive logout (default true, the documented policy
   * of SPEC §7). With false, `everywhere` also revokes every client session of the user.
   */
  readonly keepOffline?: boolean;
}

export interface LoginOptions {
  /** Authentication context class reference (ACR). */
  readonly authnInfo?: string;
  /** Authentication methods references. */
  readonly amr?: readonly string[];
  /** How long this authentication may be relied on, in seconds. */
  readonly validFor?: number;
}

export interface AuthorizeOptions {
  readonly clientId: string;
  /** The authorization request parameters (stored with the grant). */
  readonly authRequest: Readonly<Record<string, unknown>>;
  /** Granted scopes (default: the request's `scope`). */
  readonly scopes?: readonly string[] | string;
  readonly subType?: SubjectType;
  /** Needed for `subType: 'pairwise'` (see `sectorIdentifierOf`). */
  readonly sectorIdentifier?: string;
  readonly claims?: GrantClaims;
  readonly resources?: readonly string[];
  /**
   * Reuse the active grant that this browser session's current login already holds for the
   * client, when it covers the scopes and the response type (default true). Otherwise a new
   * grant is created and linked to this browser session, so that the tree alone knows which
   * clients a browser session used (logout notices). Whether the user consented before, in any
   * browser, is the app's decision: see `manager.getGrantByResponseType`.
   */
  readonly reuse?: boolean;
}

export interface AuthorizeResult {
  /** The grant's session id. */
  readonly sessionId: string;
  /** The per-(browser session, client) `sid` for ID tokens and logout tokens. */
  readonly sid: string;
  readonly grant: GrantRecord;
  /** True when an existing grant was reused. */
  readonly reused: boolean;
}

export interface CodeOptions {
  readonly redirectUri?: string;
  readonly codeChallenge?: string;
  /** Required with `codeChallenge` (RFC 7636 §4.3 would read an absent method as `plain`). */
  readonly codeChallengeMethod?: 'S256' | 'plain';
  readonly nonce?: string;
  readonly scope?: readonly string[] | string;
}

/** `req.oidcSessions`. */
export interface OidcRequestSessions {
  /** The logged-in user of this browser session, or undefined. */
  readonly userId: string | undefined;
  /** The authentication event of this browser session, or undefined. */
  readonly authnEvent: AuthnEvent | undefined;
  /** This browser session's id in the tree, or undefined when nobody is logged in. */
  readonly browserSessionId: string | undefined;
  /** The manager, for anything the helpers below do not cover. */
  readonly manager: SessionManager;

  /**
   * Logs `userId` in: regenerates the express-session id (the old record is destroyed: no
   * fixation), records the authentication event and links this browser to the user node.
   * Keys of the old session named in `carry` are copied over (a pending authorization request);
   * nothing else is. Logging in as the user already logged in keeps the browser session (its
   * `sid`s and tokens) and records the new authentication event (step-up). Logging in as another
   * user ends the previous user's browser session first and returns whom to notify of that.
   */
  login(userId: string, options?: LoginOptions & { carry?: readonly string[] }): Promise<LogoutNotice[]>;

  /** Creates or reuses the grant for the current user and `clientId`, linked to this browser session. */
  authorize(options: AuthorizeOptions): Promise<AuthorizeResult>;

  /** Mints an authorization code for a grant of this browser session, bound to it. */
  issueCode(sessionId: string, options?: CodeOptions): Promise<MintedToken>;

  /** Token helpers bound to the manager. */
  readonly redeemCode: SessionManager['redeemCode'];
  readonly refresh: SessionManager['refresh'];
  readonly validateToken: SessionManager['validateToken'];
  readonly introspect: SessionManager['introspect'];
  readonly revokeToken: SessionManager['revokeToken'];
  readonly mintToken: SessionManager['mintToken'];

  /**
   * Logs out this browser session (or, with `everywhere`, every session of the user): tokens
   * bound to the session die, offline tokens survive (documented policy), the express session
   * is destroyed (regenerated: the old record is deleted). Returns whom back-channel /
   * front-channel logout must notify, computed from the tree.
   *
   * Policy: tokens minted under `offline_access` survive logout and die with their grant;
   * grants themselves are consent records and stay (revoke them with `keepOffline: false`, or
   * from an account page). When nobody is logged in — for example a cross-site POST that
   * arrived without the cookie (field fault 20) — it returns `[]` and leaves the session alone,
   * so an app can tell "logged out" from "could not see the session".
   */
  logout(options?: LogoutOptions): Promise<LogoutNotice[]>;

  /** The current user's sessions (clients, grants, browser sessions), or undefined when anonymous. */
  listSessions(): Promise<UserSessions | undefined>;

  /**
   * The clients this browser session authorized (ids). Kept in the express session and merged,
   * not overwritten, when concurrent requests of one browser save it. `logout()` computes its
   * notices from the tree, which is authoritative.
   */
  readonly clients: readonly string[];

  /** The `sid` of this browser session for `clientId`, or undefined when anonymous. */
  sidFor(clientId: string): string | undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by the `oidcSessions()` middleware. */
      oidcSessions: OidcRequestSessions;
    }
  }
}
