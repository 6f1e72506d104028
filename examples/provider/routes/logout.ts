/**
 * OpenID Connect RP-Initiated Logout 1.0 with Back-Channel Logout 1.0.
 *
 * GET or POST /session/end validates `id_token_hint` (our signature and issuer; an expired
 * hint is fine, §2; while someone is signed in, its `sub` must be that user's at the hint's
 * client, §2 and §3), `client_id`, `post_logout_redirect_uri` (only a URI registered for that
 * client, §3) and `state`, then asks the signed-in user to confirm (a form with a CSRF token).
 * Confirming logs the browser session out through the middleware, which returns who must be
 * told; each such client with a `backchannel_logout_uri` gets a logout token.
 */
import { Router, type Request, type Response } from 'express';
import { compactVerify, decodeJwt, type JWTPayload } from 'jose';
import { backchannel } from '../backchannel.js';
import { subjectOptionsOf } from '../clients.js';
import type { Provider } from '../context.js';
import { csrfToken, csrfValid } from '../csrf.js';
import { OAuthError } from '../oauth-errors.js';
import { errorPage, logoutConfirmPage, messagePage, resubmitPage } from '../pages.js';
import { LIMITS, optionalParam, paramsOf } from '../params.js';

/** A validated logout request, parked in the session until the user confirms. */
interface LogoutRequest {
  readonly clientId?: string;
  readonly postLogoutRedirectUri?: string;
  readonly state?: string;
}

declare module 'express-session' {
  interface SessionData {
    logoutRequest?: LogoutRequest;
  }
}

export function logoutRoutes(p: Provider): Router {
  const router = Router();

  /** The hint's claims when we signed it (expiry is not checked: RP-Initiated Logout §2). */
  async function verifyHint(token: string): Promise<JWTPayload | undefined> {
    try {
      const { protectedHeader } = await compactVerify(token, p.signer.publicKey, { algorithms: ['ES256'] });
      const claims = decodeJwt(token);
      // Only our ID tokens: the same key also signs logout tokens (typ logout+jwt, an `events`
      // claim) and may sign JWT access tokens (typ at+jwt); neither is an id_token_hint.
      const idToken = protectedHeader.typ === 'JWT' && claims.events === undefined;
      return idToken && claims.iss === p.issuer ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  /** `userId`: who is signed in (undefined: nobody, so the hint can name nobody else). */
  async function parse(params: Readonly<Record<string, unknown>>, userId: string | undefined): Promise<LogoutRequest> {
    const hint = optionalParam(params, 'id_token_hint', LIMITS.token);
    let clientId = optionalParam(params, 'client_id', 256);
    const redirect = optionalParam(params, 'post_logout_redirect_uri', LIMITS.uri);
    const state = optionalParam(params, 'state', LIMITS.state);
    /** The hint's subject: null without a hint, undefined if a hint had no string `sub`. */
    let hintSub: string | undefined | null = null;
    if (hint !== undefined) {
      const claims = await verifyHint(hint);
      if (!claims) throw new OAuthError('invalid_request', 'id_token_hint is not an ID token issued by this provider');
      hintSub = typeof claims.sub === 'string' ? claims.sub : undefined;
      const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      const hinted = typeof claims.azp === 'string' ? claims.azp : aud.length === 1 ? aud[0] : undefined;
      if (clientId !== undefined && !aud.includes(clientId)) throw new OAuthError('invalid_request', 'client_id does not match id_token_hint');
      clientId ??= hinted;
    }
    const client = p.clients.get(clientId);
    if (clientId !== undefined && !client) throw new OAuthError('invalid_request', 'unknown client_id');
    if (hintSub !== null && userId !== undefined && (!client || hintSub !== p.manager.subjectFor(userId, subjectOptionsOf(client)))) {
      // §2/§3: a hint about another user is suspect (a stolen or stale ID token): neither log the
      // signed-in user out on its word nor send the browser to its client. A hint of the same user
      // from an older browser session has the same sub (sub is per user and client, not session).
      throw new OAuthError('invalid_request', 'id_token_hint does not belong to the signed-in end-user');
    }
    if (redirect !== undefined) {
      // §3: redirect only to a URI registered for the client identified by the hint or client_id.
      if (!client) throw new OAuthError('invalid_request', 'post_logout_redirect_uri needs id_token_hint or client_id');
      if (!client.post_logout_redirect_uris.includes(redirect)) {
        throw new OAuthError('invalid_request', 'post_logout_redirect_uri is not registered for this client');
      }
    }
    return {
      ...(client && { clientId: client.client_id }),
      ...(redirect !== undefined && { postLogoutRedirectUri: redirect }),
      ...(state !== undefined && { state }),
    };
  }

  function sendPage(res: Response, status: number, body: string): void {
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.type('html').send(body);
  }

  /** After logout (or when nobody was signed in): back to the client, or a plain page. */
  function done(res: Response, lr: LogoutRequest | undefined): void {
    if (lr?.postLogoutRedirectUri) {
      const url = new URL(lr.postLogoutRedirectUri);
      if (lr.state !== undefined) url.searchParams.append('state', lr.state);
      res.setHeader('Cache-Control', 'no-store');
      return res.redirect(303, url.href);
    }
    sendPage(res, 200, messagePage('Signed out', 'You are signed out.'));
  }

  async function endSession(req: Request, res: Response): Promise<void> {
    const params = paramsOf(req.method === 'POST' ? req.body : req.query);
    const userId = req.oidcSessions.userId;
    let lr: LogoutRequest;
    try {
      lr = await parse(params, userId);
    } catch (e) {
      if (e instanceof OAuthError) return sendPage(res, 400, errorPage(e.error, e.description));
      throw e;
    }
    if (userId === undefined) {
      if (req.method === 'POST' && params.resubmitted !== '1') {
        // A cross-site POST carries no SameSite=Lax cookie, so "nobody is signed in" may be
        // false. Re-submit from our own origin (same-site: the cookie comes along) rather than
        // report a logout that did not happen (field fault 20). Nothing is written to the session.
        const fields: Record<string, string | undefined> = {};
        for (const k of ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state']) {
          const v = params[k];
          if (typeof v === 'string') fields[k] = v;
        }
        return sendPage(res, 200, resubmitPage({ action: '/session/end', fields }));
      }
      return done(res, lr);
    }
    req.session.logoutRequest = lr;
    const client = lr.clientId === undefined ? undefined : p.clients.get(lr.clientId);
    sendPage(
      res,
      200,
      logoutConfirmPage({
        action: '/session/end/confirm',
        csrf: csrfToken(req),
        userName: p.users.displayName(userId),
        ...(client && { clientName: client.client_name ?? client.client_id }),
      }),
    );
  }

  router.get('/session/end', endSession);
  router.post('/session/end', endSession);

  router.post('/session/end/confirm', async (req, res) => {
    const body = paramsOf(req.body);
    const lr = req.session?.logoutRequest;
    if (req.oidcSessions.userId === undefined) return done(res, lr); // signed out meanwhile (another tab)
    if (!lr || !csrfValid(req, body.csrf)) {
      return sendPage(res, 400, errorPage('invalid_request', 'The sign-out form has expired. Please try again.'));
    }
    if (body.logout !== 'yes') {
      delete req.session.logoutRequest;
      return sendPage(res, 200, messagePage('Still signed in', 'You are still signed in.'));
    }
    const notices = await req.oidcSessions.logout();
    await backchannel(p, notices);
    done(res, lr);
  });

  return router;
}
