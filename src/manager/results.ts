/** Shapes the manager returns. */
import type { InactiveReason } from '../errors.js';
import type { AuthnEvent, BrowserSessionRecord, ClientRecord, GrantRecord, ReuseMarker, TokenRecord, UserRecord } from '../tree/records.js';

/** What {@link SessionManager.getSessionInfo} can add on request. */
export interface SessionInfoInclude {
  readonly user?: boolean;
  readonly client?: boolean;
  readonly grant?: boolean;
  readonly authnEvent?: boolean;
  readonly authRequest?: boolean;
}

export interface SessionInfo {
  /** The grant's session id (sealed on first read). */
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly grantId: string;
  readonly user?: UserRecord;
  readonly client?: ClientRecord;
  readonly grant?: GrantRecord;
  readonly authnEvent?: AuthnEvent;
  readonly authRequest?: Readonly<Record<string, unknown>>;
}

/**
 * {@link SessionInfo} of the grant holding a token, with the token and whether it is active. A
 * single-use token that was used up is kept only as its reuse marker: then `marker` replaces
 * `token` and the token is inactive, `used`.
 */
export type TokenSessionInfo = SessionInfo &
  (
    | { readonly token: TokenRecord; readonly marker?: undefined; readonly active: boolean; readonly inactiveReason?: InactiveReason }
    | { readonly token?: undefined; readonly marker: ReuseMarker; readonly active: false; readonly inactiveReason: 'used' }
  );

/** An active token with everything above it: what `validateToken` returns. */
export interface ValidatedToken {
  readonly sessionId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly grantId: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly token: TokenRecord;
  readonly grant: GrantRecord;
  readonly user: UserRecord;
  readonly client: ClientRecord;
}

/** A freshly minted token: the value is returned once and never stored. */
export interface MintedToken {
  readonly value: string;
  readonly token: TokenRecord;
}

/** The answer of a code redemption or a refresh: what a token endpoint sends back. */
export interface TokenSet {
  readonly accessToken: MintedToken;
  readonly refreshToken?: MintedToken;
  readonly idToken?: MintedToken;
  /** Seconds until the access token expires. */
  readonly expiresIn: number;
  readonly scope: readonly string[];
  readonly session: SessionInfo;
}

/** Whom a logout must notify (back-channel / front-channel logout). */
export interface LogoutNotice {
  readonly clientId: string;
  readonly sub: string;
  /** The per-(browser session, client) `sid`, when the grant came through a browser session. */
  readonly sid?: string;
}

/** One user's sessions, for an account page. */
export interface UserSessions {
  readonly userId: string;
  readonly browserSessions: readonly BrowserSessionRecord[];
  readonly clients: ReadonlyArray<{
    readonly clientId: string;
    readonly revoked: boolean;
    readonly grants: ReadonlyArray<{
      readonly sessionId: string;
      readonly grant: GrantRecord;
      readonly active: boolean;
      readonly inactiveReason?: InactiveReason;
    }>;
  }>;
}

/** An RFC 7662 introspection response. */
export type IntrospectionResponse =
  | { readonly active: false }
  | {
      readonly active: true;
      readonly scope: string;
      readonly client_id: string;
      readonly sub: string;
      readonly exp: number;
      readonly iat: number;
      readonly nbf: number;
      /** `Bearer` for an access token; absent for other classes (RFC 7662 §2.2, RFC 6749 §7.1). */
      readonly token_type?: 'Bearer';
      readonly aud?: readonly string[];
      readonly iss?: string;
      readonly jti: string;
      readonly sid?: string;
    };
