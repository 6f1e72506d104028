/**
 * CSRF tokens for the provider's own POST forms (account page, logout confirmation): a random
 * value kept in the express session and echoed in a hidden field (synchroniser token). Only
 * sessions that already exist get one: creating a session just to hold a CSRF token would set
 * a cookie on requests that should leave the browser's session alone (field fault 20).
 */
import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { secretsEqual } from './clients.js';

declare module 'express-session' {
  interface SessionData {
    /** The synchroniser token of this browser session's forms. */
    csrf?: string;
  }
}

/** The session's CSRF token, created on first use. */
export function csrfToken(req: Request): string {
  req.session.csrf ??= randomBytes(24).toString('base64url');
  return req.session.csrf;
}

/** True when the form echoes the session's token. */
export function csrfValid(req: Request, presented: unknown): boolean {
  const expected = req.session?.csrf;
  return typeof presented === 'string' && typeof expected === 'string' && secretsEqual(presented, expected);
}
