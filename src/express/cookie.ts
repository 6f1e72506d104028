/**
 * Cookie policy for the browser-session cookie (SPEC §7, field fault 20).
 *
 * OIDC sends the browser across sites: the relying party redirects to the authorization
 * endpoint and the provider redirects back. `SameSite=Lax` keeps the cookie on those top-level
 * GET navigations while withholding it from cross-site POSTs and subresources (CSRF defence).
 * `SameSite=None` is needed only for cross-site POSTs (`response_mode=form_post` *to* the
 * provider, iframes) and browsers drop such a cookie unless it is also `Secure`, which breaks
 * the login silently — so that combination is refused, loudly, at start-up.
 */
import type { CookieOptions } from 'express-session';
import { Misconfigured } from './errors.js';
import type { CookiePolicyInput } from './types.js';

/**
 * express-session `cookie` options with the defaults an OpenID provider needs:
 * `httpOnly: true`, `sameSite: 'lax'`, `secure: 'auto'` (Secure whenever the request came over
 * HTTPS — set Express `trust proxy` behind a TLS-terminating proxy), `path: '/'`.
 * Overrides win; the result is checked by the same policy as the middleware.
 *
 * @example
 * ```ts
 * app.use(session({ secret, resave: false, saveUninitialized: false, cookie: sessionCookie({ maxAge: 86_400_000 }) }));
 * ```
 * @throws {Misconfigured} for `SameSite=None` without `secure: true`.
 */
export function sessionCookie(overrides: SessionCookieOptions = {}): CookieOptions {
  const cookie: SessionCookieOptions = { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto', ...overrides };
  checkCookiePolicy(cookie);
  // express-session ≥ 1.19 understands sameSite 'auto'; its type definitions do not list it yet.
  return cookie as CookieOptions;
}

/** express-session cookie options, with `sameSite: 'auto'` (express-session ≥ 1.19: None on HTTPS, Lax on HTTP). */
export type SessionCookieOptions = Omit<CookieOptions, 'sameSite'> & { sameSite?: CookieOptions['sameSite'] | 'auto' };

/**
 * Refuses cookie settings that break the OIDC round trip or expose the session id:
 * `SameSite=None` unless `secure: true` (with `'auto'` it is sent without `Secure` over HTTP
 * and rejected by browsers — use `sameSite: 'auto'`, which picks None on HTTPS and Lax on
 * HTTP), and `httpOnly: false` (scripts must never read the session id).
 */
export function checkCookiePolicy(cookie: CookiePolicyInput): void {
  const sameSite = typeof cookie.sameSite === 'string' ? cookie.sameSite.toLowerCase() : cookie.sameSite;
  if (sameSite === 'none' && cookie.secure !== true) {
    throw new Misconfigured(
      'the session cookie has SameSite=None without Secure; browsers reject such cookies and the OIDC ' +
        "round trip breaks. Use secure: true (HTTPS only), or sameSite: 'auto' / 'lax'.",
    );
  }
  if (cookie.httpOnly === false) {
    throw new Misconfigured('the session cookie must be httpOnly: scripts must never read the session id.');
  }
}
