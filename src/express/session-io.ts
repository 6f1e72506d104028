/**
 * Promise wrappers around the express-session calls the middleware makes, with store failures
 * reported as {@link StoreUnavailable} (the session store is part of "the store" to a client).
 */
import type { Session } from 'express-session';
import { StoreUnavailable } from '../errors.js';

/** `StoreUnavailable` that keeps the store's own error as `cause`, for server-side logs. */
export function sessionStoreUnavailable(cause: unknown): StoreUnavailable {
  const e = new StoreUnavailable('browser session store unavailable');
  Object.defineProperty(e, 'cause', { value: cause, enumerable: false, configurable: true });
  return e;
}

/**
 * Saves the session now. express-session saves at the end of a response but writes the head
 * first, so a browser can follow a redirect before the store holds what the redirect relies
 * on; a login is saved before the handler goes on (express-session's own advice).
 */
export function save(session: Session): Promise<void> {
  return new Promise((resolve, reject) => {
    session.save((err: unknown) => (err ? reject(sessionStoreUnavailable(err)) : resolve()));
  });
}

/**
 * New session id and empty session; the old record is destroyed in the store first (no
 * fixation, field fault 1). express-session generates the new session even when the destroy
 * fails, but then the old id may still be live, so that counts as failure.
 */
export function regenerate(session: Session): Promise<void> {
  return new Promise((resolve, reject) => {
    session.regenerate((err: unknown) => (err ? reject(sessionStoreUnavailable(err)) : resolve()));
  });
}

/**
 * Sets the session cookie's lifetime to end no later than `validUntil`, so the store's TTL
 * (derived from the cookie by connect-redis and MemoryStore) cannot outlive the login however
 * often express-session slides it (field fault 5). `now` and `validUntil` come from the same
 * clock; the cookie itself runs on the wall clock, so only the remaining time is transferred.
 * A browser-session cookie (no maxAge) is left alone: giving it an expiry would make it persistent.
 */
export function capCookieLifetime(cookie: Session['cookie'], validUntil: number, now: number): void {
  const remaining = Math.max(0, validUntil - now);
  const original = cookie.originalMaxAge;
  if (typeof original === 'number' && original > remaining) cookie.maxAge = remaining;
}
