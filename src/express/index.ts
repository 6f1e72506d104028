/** The Express layer: `oidcSessions()`, its error handler and the cookie policy. */
export { oidcSessions } from './middleware.js';
export { oidcSessionsErrorHandler, errorAnswer, type ErrorHandlerOptions, type ErrorAnswer } from './error-handler.js';
export { sessionCookie, checkCookiePolicy, type SessionCookieOptions } from './cookie.js';
export { LoginRequired, Misconfigured } from './errors.js';
export type * from './types.js';
