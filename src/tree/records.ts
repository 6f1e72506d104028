/**
 * Records of the session tree (SPEC §4). They are plain, JSON-safe data: stores keep them
 * as they are, `dump()` exports them, and nothing in them is a secret (token values are
 * kept only as hashes). Times are milliseconds since the epoch.
 */

/** Built-in token classes; a registered custom class is any other non-empty string. */
export type TokenClass = 'authorization_code' | 'access_token' | 'refresh_token' | 'id_token' | (string & {});

/** How a token of one class may be used. Treated as an immutable value (B-13, B-31, B-57). */
export interface UsageRules {
  /** Lifetime in seconds from issuance; absent means the grant's lifetime bounds it. */
  readonly expiresIn?: number;
  /** Number of redemptions after which the token is used up (codes: 1). */
  readonly maxUsage?: number;
  /** Token classes that may be minted from a token of this class. */
  readonly supportsMinting: readonly string[];
  /**
   * How values are encoded: `opaque` (default) or a signed JWT whose `jti` resolves to the
   * record (RFC 9068 for access tokens; needs the manager's `jwt` option). ID tokens are always JWTs.
   */
  readonly format?: 'opaque' | 'jwt';
}

/** The authentication event a grant rests on. */
export interface AuthnEvent {
  readonly userId: string;
  /** Authentication context class reference (ACR). */
  readonly authnInfo?: string;
  /** Authentication methods references. */
  readonly amr?: readonly string[];
  /** When the user authenticated (ms). */
  readonly authnTime: number;
  /** Until when the authentication may be relied on (ms). */
  readonly validUntil: number;
}

/** Claims to release, per release point. */
export interface GrantClaims {
  readonly userinfo?: Readonly<Record<string, unknown>>;
  readonly id_token?: Readonly<Record<string, unknown>>;
  readonly introspection?: Readonly<Record<string, unknown>>;
  readonly access_token?: Readonly<Record<string, unknown>>;
}

export type SubjectType = 'public' | 'pairwise' | 'ephemeral';

/** A user node: the root of one user's subtree. */
export interface UserRecord {
  readonly userId: string;
  /** Incremented by "log out everywhere"; tokens minted under an older epoch are inactive. */
  readonly epoch: number;
  /** Browser sessions (§7) currently logged in as this user, by browser session id. */
  readonly browserSessions: Readonly<Record<string, BrowserSessionRecord>>;
  readonly createdAt: number;
}

/** One browser (express-session) logged in as the user. */
export interface BrowserSessionRecord {
  readonly id: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The user epoch this login belongs to; an older one means "logged out everywhere". */
  readonly epoch: number;
}

/** A client session: (user, client). */
export interface ClientRecord {
  readonly userId: string;
  readonly clientId: string;
  readonly revoked: boolean;
  readonly createdAt: number;
}

/** A grant: what the user allowed one client, and the tokens issued under it. */
export interface GrantRecord {
  readonly id: string;
  readonly userId: string;
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly claims: GrantClaims;
  readonly resources: readonly string[];
  readonly authRequest: Readonly<Record<string, unknown>>;
  readonly authnEvent: AuthnEvent;
  readonly sub: string;
  readonly subType: SubjectType;
  readonly usageRules: Readonly<Record<string, UsageRules>>;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  readonly revoked: boolean;
  /** The browser session the grant came from, when it came through a browser. */
  readonly browserSessionId?: string;
}

/** A token record. The value itself is never stored, only `hash`. */
export interface TokenRecord {
  readonly id: string;
  readonly grantId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly class: TokenClass;
  /** SHA-256 of the value, base64url (SPEC §3.3). */
  readonly hash: string;
  /** Id of the token it was minted from. */
  readonly basedOn?: string;
  readonly scope: readonly string[];
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly resources?: readonly string[];
  readonly usageRules: UsageRules;
  readonly used: number;
  readonly issuedAt: number;
  readonly notBefore: number;
  readonly expiresAt: number;
  readonly revoked: boolean;
  /** The user epoch at mint time (log out everywhere). */
  readonly epoch: number;
  /** Minted under `offline_access` by a code or refresh token (never a code): survives logout (documented policy, SPEC §7). */
  readonly offline: boolean;
  /** The browser session it is bound to: the token dies when that session ends (SPEC §4). */
  readonly browserSessionId?: string;
  /** When the token was last redeemed (codes, refresh tokens): the refresh grace window. */
  readonly usedAt?: number;
  /** Refresh tokens: the chain's first issuance, for the absolute lifetime cap. */
  readonly chainStartedAt?: number;
  /** Refresh tokens: the id shared by every token of one rotation chain. */
  readonly familyId?: string;
  /** Authorization codes: the parts of the request the redemption must match. */
  readonly codeBinding?: CodeBinding;
}

/** What a code redemption is checked against (RFC 6749 §4.1.3, RFC 7636). */
export interface CodeBinding {
  readonly redirectUri?: string;
  readonly codeChallenge?: string;
  readonly codeChallengeMethod?: 'S256' | 'plain';
  readonly nonce?: string;
}

/** A grant with the nodes above it: everything the activity rule needs (SPEC §4). */
export interface GrantContext {
  readonly user: UserRecord;
  readonly client: ClientRecord;
  readonly grant: GrantRecord;
}

/** A token with its grant and the nodes above it. */
export interface TokenContext extends GrantContext {
  readonly token: TokenRecord;
}

/**
 * A consumed single-use token kept only for reuse detection: the full record is gone
 * (pruned from the grant's index, field fault 18) but presenting its value again is
 * still recognised until the token would have expired.
 */
export interface ReuseMarker {
  readonly hash: string;
  readonly tokenId: string;
  readonly grantId: string;
  readonly userId: string;
  readonly clientId: string;
  readonly class: TokenClass;
  readonly usedAt: number;
  readonly expiresAt: number;
  readonly familyId?: string;
}
