/**
 * `oidcSessionsErrorHandler()`: maps the typed errors to HTTP answers with a JSON body. No stack
 * trace, internal message or foreign error text ever reaches the client; 5xx causes are logged
 * server-side instead.
 */
import type { ErrorRequestHandler } from 'express';
import { OidcSessionsError } from '../errors.js';

export interface ErrorHandlerOptions {
  /**
   * Receives errors answered with a 5xx (default: a one-line `console.error`). Our own errors
   * never contain secrets; foreign ones are passed as they are, for the operator only.
   */
  readonly log?: (message: string, error: unknown) => void;
}

/** OAuth 2.0 error codes (RFC 6749 §5.2) for the library's error codes. */
const OAUTH_ERROR: Readonly<Record<string, string>> = {
  invalid_input: 'invalid_request',
  invalid_session_id: 'invalid_request',
  unknown_token: 'invalid_grant',
  inactive_token: 'invalid_grant',
  token_reused: 'invalid_grant',
  wrong_client: 'invalid_grant',
  minting_not_allowed: 'invalid_grant',
  unknown_session: 'invalid_request',
  login_required: 'login_required',
};

/** Errors from a Redis client that mean "the store is down" (node-redis sets no `name`). */
const OUTAGE_CLASSES = new Set([
  'ClientClosedError',
  'ClientOfflineError',
  'ConnectionTimeoutError',
  'SocketTimeoutError',
  'SocketClosedUnexpectedlyError',
  'RootNodesUnavailableError',
  'ReconnectStrategyError',
  'TimeoutError',
]);
const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTCONN', 'NR_CLOSED']);

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: string; readonly error_description?: string };
}

/** What the handler answers for `err` (exported for apps that render errors themselves). */
export function errorAnswer(err: unknown): ErrorAnswer {
  if (isStoreOutage(err)) return { status: 503, body: { error: 'temporarily_unavailable' } };
  if (err instanceof OidcSessionsError) {
    if (err.status >= 500) return { status: 500, body: { error: 'server_error' } };
    return { status: err.status, body: { error: OAUTH_ERROR[err.code] ?? 'invalid_request', error_description: err.message } };
  }
  // http-errors (body parsers, express.static) carry `expose` on every error they make. It says
  // whether the *message* may be shown (send's 404 hides it: it names a file path), not whose
  // fault it is: a 4xx stays a 4xx, and the body never carries a foreign message anyway.
  const e = err as { status?: unknown; statusCode?: unknown; expose?: unknown } | null;
  const status = typeof e?.status === 'number' ? e.status : e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500 && typeof e?.expose === 'boolean') {
    return { status, body: { error: 'invalid_request' } };
  }
  return { status: 500, body: { error: 'server_error' } };
}

function isStoreOutage(err: unknown, depth = 0): boolean {
  if (err === null || typeof err !== 'object' || depth > 3) return false;
  if ((err as OidcSessionsError).code === 'store_unavailable' && err instanceof OidcSessionsError) return true;
  if (OUTAGE_CLASSES.has((err as object).constructor?.name ?? '')) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && OUTAGE_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some((x) => isStoreOutage(x, depth + 1));
  return false;
}

/**
 * Error-handling middleware: mount it after the routes. Store outages (ours, or the session
 * store's Redis client) → 503 `{"error":"temporarily_unavailable"}`; typed client errors → their
 * status with an OAuth-style `error`; anything else → 500 `{"error":"server_error"}`.
 */
export function oidcSessionsErrorHandler(options: ErrorHandlerOptions = {}): ErrorRequestHandler {
  const log = options.log ?? ((message: string) => console.error(message));
  return function oidcSessionsErrors(err, _req, res, next) {
    if (res.headersSent) return next(err);
    const { status, body } = errorAnswer(err);
    if (status >= 500) log(`oidc-sessions: ${status} ${describe(err)}`, err);
    res.status(status);
    res.setHeader('Cache-Control', 'no-store');
    if (status === 503) res.setHeader('Retry-After', '1');
    res.json(body);
  };
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message}`;
  return typeof err;
}
