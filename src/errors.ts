/**
 * The one error vocabulary of oidc-sessions (SPEC §5). Every failure a caller can cause
 * surfaces as a subclass of {@link OidcSessionsError} with a stable `code` and an HTTP
 * status hint; messages never contain token values, keys or session ids.
 */

/** Why a token is not active (SPEC §4). */
export type InactiveReason =
  | 'revoked'
  | 'expired'
  | 'not_yet_valid'
  | 'used'
  | 'parent_revoked'
  | 'grant_revoked'
  | 'grant_expired'
  | 'client_session_revoked'
  | 'user_logged_out'
  | 'browser_session_ended'
  | 'wrong_class';

/** Base class: `code` is stable across versions, `status` is a hint for HTTP layers. */
export class OidcSessionsError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = status;
  }
}

/** An argument has the wrong type, is empty, too long, or otherwise malformed. */
export class InvalidInput extends OidcSessionsError {
  constructor(message: string) {
    super('invalid_input', 400, message);
  }
}

/** A session id that is tampered, truncated, re-encoded or sealed with an unknown key. */
export class InvalidSessionId extends OidcSessionsError {
  constructor(message = 'session id is not valid') {
    super('invalid_session_id', 400, message);
  }
}

/** The user, client session or grant a session id names does not exist (any more). */
export class UnknownSession extends OidcSessionsError {
  constructor(message = 'no such session') {
    super('unknown_session', 404, message);
  }
}

/** No token with that value is known. */
export class UnknownToken extends OidcSessionsError {
  constructor(message = 'unknown token') {
    super('unknown_token', 400, message);
  }
}

/** The token exists but is not active; `reason` says why (SPEC §4). */
export class InactiveToken extends OidcSessionsError {
  readonly reason: InactiveReason;
  constructor(reason: InactiveReason) {
    super('inactive_token', 400, `token is not active: ${reason}`);
    this.reason = reason;
  }
}

/** A single-use token (code, rotated refresh token) was presented again. */
export class TokenReused extends OidcSessionsError {
  /** What the reuse policy revoked in response. */
  readonly revoked: 'grant' | 'descendants' | 'nothing';
  constructor(revoked: 'grant' | 'descendants' | 'nothing') {
    super('token_reused', 400, 'token was already used');
    this.revoked = revoked;
  }
}

/** The parent token or grant may not mint the requested class, or asked for a wider scope. */
export class MintingNotAllowed extends OidcSessionsError {
  constructor(message = 'minting not allowed') {
    super('minting_not_allowed', 400, message);
  }
}

/** The token or grant belongs to another client than the one presenting it. */
export class WrongClient extends OidcSessionsError {
  constructor(message = 'token was issued to another client') {
    super('wrong_client', 400, message);
  }
}

/** The store could not be reached in time; nothing was written. Retry later. */
export class StoreUnavailable extends OidcSessionsError {
  constructor(message = 'session store unavailable') {
    super('store_unavailable', 503, message);
  }
}
