/**
 * OAuth 2.0 / OpenID Connect error responses, and the mapping from the library's typed errors
 * to them. The rule: anything a client or a browser can cause is a 4xx with a standard error
 * code; the only 5xx is 503 `temporarily_unavailable` when the session store is down.
 */
import type { ServerResponse } from 'node:http';
import {
  errorAnswer,
  InactiveToken,
  InvalidInput,
  InvalidSessionId,
  MintingNotAllowed,
  OidcSessionsError,
  StoreUnavailable,
  TokenReused,
  UnknownSession,
  UnknownToken,
  WrongClient,
} from '../../src/index.js';
import type { ProviderLogger } from './context.js';
import { sendJson } from './json.js';

/** An error to answer with an OAuth error body (RFC 6749 §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6). */
export class OAuthError extends Error {
  constructor(
    /** The `error` code: `invalid_request`, `invalid_client`, `invalid_grant`, … */
    readonly error: string,
    /** A description for developers; never contains token values or secrets. */
    readonly description: string,
    readonly status = 400,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

/**
 * The token endpoint's view of a failed code redemption or refresh (RFC 6749 §5.2): every
 * "this grant cannot be used" outcome of the manager is `invalid_grant` — reused codes and
 * refresh tokens, unknown or inactive ones, another client's, and PKCE or redirect_uri
 * mismatches, which `redeemCode` reports as `InvalidInput`. A scope wider than the grant's
 * is `invalid_scope` (RFC 6749 §6).
 */
export function grantError(e: unknown): unknown {
  if (e instanceof StoreUnavailable || !(e instanceof OidcSessionsError)) return e;
  if (e instanceof MintingNotAllowed) return new OAuthError('invalid_scope', 'the requested scope exceeds the grant');
  if (e instanceof TokenReused) {
    // Within the refresh grace window nothing is revoked: say only what happened.
    return new OAuthError('invalid_grant', e.revoked === 'nothing' ? 'grant was already used' : 'grant was already used; its tokens are revoked');
  }
  if (e instanceof InactiveToken) return new OAuthError('invalid_grant', `grant is not active (${e.reason})`);
  if (e instanceof WrongClient) return new OAuthError('invalid_grant', 'grant was issued to another client');
  if (e instanceof UnknownToken || e instanceof UnknownSession || e instanceof InvalidSessionId) {
    return new OAuthError('invalid_grant', 'grant is unknown');
  }
  if (e instanceof InvalidInput) return new OAuthError('invalid_grant', e.message);
  return new OAuthError('invalid_grant', 'grant cannot be used');
}

/** True for a library error the caller caused (anything but a store outage). */
export function isCallerFault(e: unknown): e is OidcSessionsError {
  return e instanceof OidcSessionsError && !(e instanceof StoreUnavailable);
}

/** Sends an OAuth error as JSON (token, introspection, revocation, userinfo). */
export function sendOAuthError(res: ServerResponse, err: OAuthError): void {
  for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
  res.setHeader('Cache-Control', 'no-store');
  sendJson(res, err.status, { error: err.error, error_description: err.description });
}

/**
 * Any error as the OAuth error to answer with. OAuth errors stay as they are; anything else is
 * classified by the library's `errorAnswer`: typed errors a caller caused keep their 4xx, a
 * store outage — the tree's or express-session's Redis — is 503 `temporarily_unavailable`,
 * body-parser refusals keep their 4xx. Only a bug gives 500: it is logged (by name, never its
 * message, which could hold request data) and no detail of it is shown.
 */
export function toOAuthError(err: unknown, where: string, log: ProviderLogger): OAuthError {
  if (err instanceof OAuthError) return err;
  const answer = errorAnswer(err);
  if (answer.status === 503) {
    return new OAuthError('temporarily_unavailable', 'the session store is unavailable; try again shortly', 503, { 'Retry-After': '5' });
  }
  if (answer.status >= 500) {
    log.error(`unexpected error on ${where}: ${(err as Error)?.name ?? typeof err}`);
    return new OAuthError('server_error', 'unexpected error', 500);
  }
  return new OAuthError(answer.body.error, answer.body.error_description ?? 'bad request', answer.status);
}

/** RFC 6750 §3: the `WWW-Authenticate` value for a failed bearer request. */
export function bearerChallenge(realm: string, error?: string, description?: string): string {
  const q = (s: string) => s.replace(/["\\]/g, '');
  let v = `Bearer realm="${q(realm)}"`;
  if (error) v += `, error="${q(error)}"`;
  if (description) v += `, error_description="${q(description)}"`;
  return v;
}
