/**
 * Errors specific to the Express layer. They extend the package's one error vocabulary
 * ({@link OidcSessionsError}), so `oidcSessionsErrorHandler()` and apps treat them alike.
 */
import { OidcSessionsError } from '../errors.js';

/** The helper needs a logged-in browser session and this request has none (or it just ended). */
export class LoginRequired extends OidcSessionsError {
  constructor(message = 'no user is logged in in this browser session') {
    super('login_required', 401, message);
  }
}

/**
 * The app is wired in a way the middleware cannot work with (express-session missing or mounted
 * after it, a cookie policy browsers reject). A deployment bug, never a client's: the error
 * handler answers 500 and logs the message.
 */
export class Misconfigured extends OidcSessionsError {
  constructor(message: string) {
    super('misconfigured', 500, `oidc-sessions: ${message}`);
  }
}
