/**
 * `oidcSessions(options)`: the Express middleware that keeps the browser's express session and
 * the session tree in step (SPEC §7).
 *
 * On every request it attaches `req.oidcSessions`. An anonymous browser costs nothing (no
 * store read). A logged-in one costs exactly one read of the tree
 * (`manager.isBrowserSessionLive`), which applies every sync rule at once: a browser session
 * whose user was logged out everywhere, whose login expired, or whose tree node is gone is
 * treated as logged out — its express session is regenerated (old record destroyed), so
 * nothing stale survives in the cookie's session.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Session } from 'express-session';
import { StoreUnavailable } from '../errors.js';
import { SessionManager } from '../manager/session-manager.js';
import { requireFiniteNumber, requirePlainObject } from '../tree/validate.js';
import { checkCookiePolicy } from './cookie.js';
import { Misconfigured } from './errors.js';
import { installMergingSave, SaveLocks } from './merging-save.js';
import { MAX_LOGIN_LIFETIME, RequestSessions, type MiddlewareContext } from './request-sessions.js';
import { capCookieLifetime, regenerate } from './session-io.js';
import { parseState } from './state.js';
import type { OidcSessionsOptions } from './types.js';

const DEFAULT_LOGIN_LIFETIME = 8 * 3600;
/** Keys that would reach a prototype or express-session's own fields. */
const RESERVED_KEYS = new Set(['cookie', '__proto__', 'constructor', 'prototype', 'id', 'req', '']);

const NO_SESSION =
  'req.session is missing: mount express-session before oidcSessions(), e.g. ' +
  "app.use(session({ secret, resave: false, saveUninitialized: false, cookie: sessionCookie() })); app.use(oidcSessions({ manager }))";

/**
 * Creates the middleware. Mount it after express-session and before the routes; mount
 * `oidcSessionsErrorHandler()` after the routes.
 *
 * @throws {Misconfigured} synchronously for invalid options (no manager, bad lifetime, bad
 * session key, or a `cookie` option browsers would reject).
 */
export function oidcSessions(options: OidcSessionsOptions): RequestHandler {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new Misconfigured('oidcSessions(options) needs an options object');
  options = requirePlainObject(options, 'options') as unknown as OidcSessionsOptions; // own properties only
  const { manager } = options;
  if (!(manager instanceof SessionManager)) throw new Misconfigured('options.manager must be a SessionManager');
  const key = options.sessionKey ?? 'oidc';
  if (typeof key !== 'string' || RESERVED_KEYS.has(key) || key.length > 64) {
    throw new Misconfigured('options.sessionKey must be a short string other than cookie, id, req or a prototype name');
  }
  let loginLifetime = DEFAULT_LOGIN_LIFETIME;
  if (options.loginLifetime !== undefined) {
    loginLifetime = requireFiniteNumber(options.loginLifetime, 'loginLifetime');
    if (loginLifetime <= 0 || loginLifetime > MAX_LOGIN_LIFETIME) throw new Misconfigured(`options.loginLifetime must be between 0 and ${MAX_LOGIN_LIFETIME} seconds`);
  }
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw new Misconfigured('options.clock must be a function');
  if (options.cookie !== undefined) checkCookiePolicy(options.cookie);

  const ctx: MiddlewareContext = {
    manager,
    key,
    loginLifetime,
    clock,
    locks: new SaveLocks(),
    tokens: {
      redeemCode: manager.redeemCode.bind(manager),
      refresh: manager.refresh.bind(manager),
      validateToken: manager.validateToken.bind(manager),
      introspect: manager.introspect.bind(manager),
      revokeToken: manager.revokeToken.bind(manager),
      mintToken: manager.mintToken.bind(manager),
    },
  };
  // Once express-session has been seen in front of this middleware, a request without
  // req.session is one express-session chose to skip (cookie path, store disconnected).
  let sessionSeen = false;

  return function oidcSessionsMiddleware(req: Request, _res: Response, next: NextFunction): void {
    if (Object.hasOwn(req, 'oidcSessions')) return next(); // mounted twice
    const session = req.session as (Session & Record<string, unknown>) | undefined;
    if (session === undefined) {
      if (!sessionSeen) return next(new Misconfigured(NO_SESSION));
      req.oidcSessions = new RequestSessions(ctx, req);
      return next();
    }
    sessionSeen = true;
    try {
      checkCookiePolicy(session.cookie);
    } catch (e) {
      return next(e);
    }
    const raw = session[key];
    if (raw === undefined) {
      req.oidcSessions = new RequestSessions(ctx, req); // anonymous: no store read
      return next();
    }
    const state = parseState(raw);
    const now = clock();
    if (state === undefined || state.authnEvent.validUntil <= now) return endStale(req, session, next);
    manager.isBrowserSessionLive(state.userId, state.browserSessionId).then(
      (live) => {
        if (!live) return endStale(req, session, next);
        req.oidcSessions = new RequestSessions(ctx, req, state);
        capCookieLifetime(session.cookie, state.authnEvent.validUntil, now);
        installMergingSave(session, key, ctx.locks);
        next();
      },
      (err: unknown) => next(err instanceof Error ? err : new StoreUnavailable()),
    );
  };

  /** A login the tree no longer backs: the browser becomes anonymous and its old record is destroyed. */
  function endStale(req: Request, session: Session, next: NextFunction): void {
    req.oidcSessions = new RequestSessions(ctx, req);
    regenerate(session).then(() => next(), next);
  }
}
