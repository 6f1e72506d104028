/**
 * The authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636) and the interaction
 * pages it leads to: login and consent.
 *
 * Flow: the request is validated (errors before the redirect URI is trusted are shown as a
 * page; later ones go back to the client, RFC 6749 §4.1.2.1). If the browser's user, login age
 * and earlier consent satisfy the request, a grant is created or reused and a code issued at
 * once. Otherwise the request is parked in the express session under a random interaction id
 * and the browser goes to /interaction/:uid, which shows the login or the consent form and,
 * once both are satisfied, finishes the same way.
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { secretsEqual, subjectOptionsOf, type ClientMetadata } from '../clients.js';
import { backchannel } from '../backchannel.js';
import { SUPPORTED_SCOPES, type Provider } from '../context.js';
import { csrfToken, csrfValid } from '../csrf.js';
import { OAuthError } from '../oauth-errors.js';
import { consentPage, errorPage, loginPage } from '../pages.js';
import { saveSession } from '../session-save.js';
import { LIMITS, optionalParam, paramsOf, spaceList, type Params } from '../params.js';

/** A validated authorization request: only what the provider acts on. */
export interface AuthRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: readonly string[];
  readonly state?: string;
  readonly nonce?: string;
  /** PKCE S256 challenge (RFC 7636 §4.2). */
  readonly codeChallenge?: string;
  readonly prompt: readonly string[];
  /** Seconds (OIDC Core §3.1.2.1 `max_age`). */
  readonly maxAge?: number;
  readonly loginHint?: string;
}

/** A parked authorization request waiting for login and/or consent. */
interface Interaction {
  readonly request: AuthRequest;
  readonly csrf: string;
  readonly createdAt: number;
  /** The user signed in during this interaction (satisfies prompt=login and max_age). */
  loginDone?: boolean;
  /** The user allowed the request on the consent page. */
  consentDone?: boolean;
}

declare module 'express-session' {
  interface SessionData {
    /** Parked authorization requests by interaction id. */
    interactions?: Record<string, Interaction>;
  }
}

const INTERACTION_TTL_MS = 30 * 60 * 1000;
const MAX_INTERACTIONS = 8;
const UID = /^[A-Za-z0-9_-]{22}$/;
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account']);
const CODE_CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/;

/** An error shown to the user instead of being sent to an unverified redirect URI. */
class UntrustedRequestError extends OAuthError {}

/** An error for the client, delivered at its (verified) redirect URI. */
class RedirectableError extends OAuthError {
  constructor(
    error: string,
    description: string,
    readonly redirectUri: string,
    readonly state: string | undefined,
  ) {
    super(error, description);
  }
}

function parseAuthRequest(params: Params, p: Provider): AuthRequest {
  let clientId: string | undefined;
  let redirectUri: string | undefined;
  try {
    clientId = optionalParam(params, 'client_id', 256);
    redirectUri = optionalParam(params, 'redirect_uri', LIMITS.uri);
  } catch (e) {
    throw new UntrustedRequestError('invalid_request', (e as OAuthError).description);
  }
  const client = p.clients.get(clientId);
  if (!client) throw new UntrustedRequestError('invalid_request', 'unknown client_id');
  // OIDC Core §3.1.2.1: redirect_uri is required and must exactly match a registered one.
  if (redirectUri === undefined || !client.redirect_uris.includes(redirectUri)) {
    throw new UntrustedRequestError('invalid_request', 'redirect_uri is missing or not registered for this client');
  }
  // From here on errors go back to the client, with its state (if state itself is sound).
  let state: string | undefined;
  try {
    state = optionalParam(params, 'state', LIMITS.state);
  } catch (e) {
    throw new RedirectableError('invalid_request', (e as OAuthError).description, redirectUri, undefined);
  }
  const fail = (error: string, description: string) => new RedirectableError(error, description, redirectUri!, state);
  try {
    return parseRest(params, client, redirectUri, state, fail);
  } catch (e) {
    if (e instanceof RedirectableError) throw e;
    if (e instanceof OAuthError) throw fail(e.error, e.description);
    throw e;
  }
}

function parseRest(
  params: Params,
  client: ClientMetadata,
  redirectUri: string,
  state: string | undefined,
  fail: (error: string, description: string) => RedirectableError,
): AuthRequest {
  if (optionalParam(params, 'request', LIMITS.token) !== undefined) throw fail('request_not_supported', 'request objects are not supported');
  if (optionalParam(params, 'request_uri', LIMITS.uri) !== undefined) throw fail('request_uri_not_supported', 'request_uri is not supported');
  const responseType = optionalParam(params, 'response_type', 64);
  if (responseType === undefined) throw fail('invalid_request', 'response_type is required');
  if (responseType !== 'code') throw fail('unsupported_response_type', 'only response_type=code is supported');
  if (!client.response_types.includes('code') || !client.grant_types.includes('authorization_code')) {
    throw fail('unauthorized_client', 'this client may not use the code flow');
  }
  const responseMode = optionalParam(params, 'response_mode', 64);
  if (responseMode !== undefined && responseMode !== 'query') throw fail('invalid_request', 'only response_mode=query is supported');

  const requested = spaceList(optionalParam(params, 'scope', LIMITS.scope));
  if (!requested.includes('openid')) throw fail('invalid_scope', 'the openid scope is required');
  // Unknown scopes are ignored (OIDC Core §3.1.2.1); offline_access only for clients that may refresh.
  const scope = requested.filter(
    (s) => (SUPPORTED_SCOPES as readonly string[]).includes(s) && (s !== 'offline_access' || client.grant_types.includes('refresh_token')),
  );

  const codeChallenge = optionalParam(params, 'code_challenge', 128);
  const method = optionalParam(params, 'code_challenge_method', 16);
  if (codeChallenge === undefined) {
    if (method !== undefined) throw fail('invalid_request', 'code_challenge_method without code_challenge');
    // Public clients cannot authenticate at the token endpoint: PKCE is their proof (RFC 9700 §2.1.1).
    if (client.token_endpoint_auth_method === 'none') throw fail('invalid_request', 'PKCE (code_challenge, S256) is required for public clients');
  } else {
    // RFC 7636 §4.3: absent method means plain, which this provider does not accept.
    if (method !== 'S256') throw fail('invalid_request', 'code_challenge_method must be S256');
    if (!CODE_CHALLENGE.test(codeChallenge)) throw fail('invalid_request', 'code_challenge is malformed');
  }

  const prompt = spaceList(optionalParam(params, 'prompt', 128));
  for (const v of prompt) if (!PROMPTS.has(v)) throw fail('invalid_request', `unsupported prompt value ${v}`);
  if (prompt.includes('none') && prompt.length > 1) throw fail('invalid_request', 'prompt=none cannot be combined with other values');

  const maxAgeRaw = optionalParam(params, 'max_age', 12);
  let maxAge: number | undefined;
  if (maxAgeRaw !== undefined) {
    if (!/^\d{1,10}$/.test(maxAgeRaw)) throw fail('invalid_request', 'max_age must be a non-negative integer');
    maxAge = Number(maxAgeRaw);
  }
  const nonce = optionalParam(params, 'nonce', LIMITS.nonce);
  const loginHint = optionalParam(params, 'login_hint', 256);
  return {
    clientId: client.client_id,
    redirectUri,
    scope,
    prompt,
    ...(state !== undefined && { state }),
    ...(nonce !== undefined && { nonce }),
    ...(codeChallenge !== undefined && { codeChallenge }),
    ...(maxAge !== undefined && { maxAge }),
    ...(loginHint !== undefined && { loginHint }),
  };
}

/** Appends response parameters to a redirect URI, keeping its own query (RFC 6749 §3.1.2). */
function redirectWith(res: Response, uri: string, params: Readonly<Record<string, string | undefined>>): void {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.append(k, v);
  res.setHeader('Cache-Control', 'no-store');
  res.redirect(303, url.href);
}

type Step = 'login' | 'consent' | 'ready';

export function authorizeRoutes(p: Provider): Router {
  const router = Router();

  /** What the request still needs from this browser. */
  async function nextStep(req: Request, ar: AuthRequest, ix?: Interaction): Promise<Step> {
    const s = req.oidcSessions;
    if (s.userId === undefined || s.authnEvent === undefined) return 'login';
    if (!ix?.loginDone) {
      if (ar.prompt.includes('login') || ar.prompt.includes('select_account')) return 'login';
      if (ar.maxAge !== undefined && p.now() - s.authnEvent.authnTime > ar.maxAge * 1000) return 'login';
    }
    if (ix?.consentDone) return 'ready';
    if (ar.prompt.includes('consent')) return 'consent';
    // Consent given before is reused when an active grant of this user and client covers the scopes.
    const grant = await p.manager.getGrantByResponseType(s.userId, ar.clientId, 'code');
    return grant && ar.scope.every((x) => grant.scope.includes(x)) ? 'ready' : 'consent';
  }

  /** Creates or reuses the grant, issues the code bound to this browser session, redirects. */
  async function finish(req: Request, res: Response, ar: AuthRequest): Promise<void> {
    const client = p.clients.get(ar.clientId)!;
    const { sessionId } = await req.oidcSessions.authorize({
      clientId: ar.clientId,
      authRequest: { client_id: ar.clientId, response_type: 'code', scope: ar.scope.join(' '), redirect_uri: ar.redirectUri },
      scopes: ar.scope,
      ...subjectOptionsOf(client),
    });
    const code = await req.oidcSessions.issueCode(sessionId, {
      redirectUri: ar.redirectUri,
      scope: ar.scope,
      ...(ar.codeChallenge !== undefined && { codeChallenge: ar.codeChallenge, codeChallengeMethod: 'S256' as const }),
      ...(ar.nonce !== undefined && { nonce: ar.nonce }),
    });
    await saveSession(req);
    redirectWith(res, ar.redirectUri, { code: code.value, state: ar.state, iss: p.issuer });
  }

  function park(req: Request, ar: AuthRequest): string {
    const now = p.now();
    const live = Object.entries(req.session.interactions ?? {}).filter(([, ix]) => now - ix.createdAt < INTERACTION_TTL_MS);
    // Keep the newest few: a browser with many abandoned tabs cannot grow its session unbounded.
    live.sort((a, b) => b[1].createdAt - a[1].createdAt);
    const uid = randomBytes(16).toString('base64url');
    req.session.interactions = Object.fromEntries([
      [uid, { request: ar, csrf: randomBytes(24).toString('base64url'), createdAt: now }],
      ...live.slice(0, MAX_INTERACTIONS - 1),
    ]);
    return uid;
  }

  function interactionOf(req: Request, uid: unknown): Interaction | undefined {
    if (typeof uid !== 'string' || !UID.test(uid)) return undefined;
    const all = req.session?.interactions;
    const ix = all && Object.hasOwn(all, uid) ? all[uid] : undefined;
    return ix && p.now() - ix.createdAt < INTERACTION_TTL_MS ? ix : undefined;
  }

  function drop(req: Request, uid: string): void {
    const all = req.session.interactions;
    if (all && Object.hasOwn(all, uid)) delete all[uid];
  }

  function clientName(clientId: string): string {
    return p.clients.get(clientId)?.client_name ?? clientId;
  }

  function sendPage(res: Response, status: number, body: string): void {
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.type('html').send(body);
  }

  function expired(res: Response): void {
    sendPage(res, 400, errorPage('invalid_request', 'This sign-in request is unknown or has expired. Go back to the application and start again.'));
  }

  async function authorize(req: Request, res: Response): Promise<void> {
    const params = paramsOf(req.method === 'POST' ? req.body : req.query);
    let ar: AuthRequest;
    try {
      ar = parseAuthRequest(params, p);
    } catch (e) {
      if (e instanceof RedirectableError) return redirectWith(res, e.redirectUri, { error: e.error, error_description: e.description, state: e.state, iss: p.issuer });
      if (e instanceof OAuthError) return sendPage(res, 400, errorPage(e.error, e.description));
      throw e;
    }
    const step = await nextStep(req, ar);
    if (step === 'ready') return finish(req, res, ar);
    if (ar.prompt.includes('none')) {
      // OIDC Core §3.1.2.6. Nothing is written to the session: a cross-site POST that arrived
      // without the cookie must not get (and overwrite the browser's cookie with) a new one.
      return redirectWith(res, ar.redirectUri, {
        error: step === 'login' ? 'login_required' : 'consent_required',
        state: ar.state,
        iss: p.issuer,
      });
    }
    if (req.method === 'POST' && req.oidcSessions.userId === undefined) {
      // A POST without a logged-in session may be a cross-site form whose Lax cookie was held
      // back. Re-issue it as a top-level GET, which carries the cookie, instead of starting a
      // fresh session that would replace the browser's real one (field fault 20).
      const url = new URL(p.endpoints.authorization);
      for (const [k, v] of Object.entries(params)) if (typeof v === 'string') url.searchParams.set(k, v);
      res.setHeader('Cache-Control', 'no-store');
      return res.redirect(303, url.pathname + url.search);
    }
    const uid = park(req, ar);
    await saveSession(req);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, `/interaction/${uid}`);
  }

  router.get('/authorize', authorize);
  router.post('/authorize', authorize);

  router.get('/interaction/:uid', async (req, res) => {
    const uid = req.params.uid;
    const ix = interactionOf(req, uid);
    if (!ix) return expired(res);
    const ar = ix.request;
    const step = await nextStep(req, ar, ix);
    if (step === 'ready') {
      drop(req, uid);
      return finish(req, res, ar);
    }
    if (step === 'login') {
      return sendPage(res, 200, loginPage({ action: `/interaction/${uid}/login`, csrf: ix.csrf, clientName: clientName(ar.clientId), ...(ar.loginHint !== undefined && { username: ar.loginHint }) }));
    }
    sendPage(res, 200, consentPage({ action: `/interaction/${uid}/consent`, csrf: ix.csrf, clientName: clientName(ar.clientId), userName: p.users.displayName(req.oidcSessions.userId!), scopes: ar.scope }));
  });

  router.post('/interaction/:uid/login', async (req, res) => {
    const uid = req.params.uid;
    const ix = interactionOf(req, uid);
    const body = paramsOf(req.body);
    if (!ix || !csrfMatches(ix, body.csrf)) return expired(res);
    const username = typeof body.username === 'string' ? body.username.slice(0, 256) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const user = p.users.verify(username, password);
    if (!user) {
      return sendPage(res, 401, loginPage({ action: `/interaction/${uid}/login`, csrf: ix.csrf, clientName: clientName(ix.request.clientId), username, error: 'Wrong username or password.' }));
    }
    // A new session id (the old one is destroyed: no fixation, field fault 1); only the parked
    // requests move over.
    const ended = await req.oidcSessions.login(user.username, { amr: ['pwd'], validFor: p.loginLifetime, carry: ['interactions'] });
    // Signing in as someone else ended the previous user's session here: tell their clients.
    await backchannel(p, ended);
    const moved = interactionOf(req, uid);
    if (moved) moved.loginDone = true;
    await saveSession(req);
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(303, `/interaction/${uid}`);
  });

  router.post('/interaction/:uid/consent', async (req, res) => {
    const uid = req.params.uid;
    const ix = interactionOf(req, uid);
    const body = paramsOf(req.body);
    if (!ix || !csrfMatches(ix, body.csrf)) return expired(res);
    if (req.oidcSessions.userId === undefined) return res.redirect(303, `/interaction/${uid}`);
    if (body.decision === 'allow') {
      ix.consentDone = true;
      await saveSession(req);
      return res.redirect(303, `/interaction/${uid}`);
    }
    drop(req, uid);
    await saveSession(req);
    redirectWith(res, ix.request.redirectUri, { error: 'access_denied', error_description: 'the user denied the request', state: ix.request.state, iss: p.issuer });
  });

  // A sign-in page of the provider itself (for the account page), outside any client request.
  router.get('/login', (req, res) => {
    if (req.oidcSessions.userId !== undefined) return res.redirect(303, '/account');
    sendPage(res, 200, loginPage({ action: '/login', csrf: csrfToken(req) }));
  });

  router.post('/login', async (req, res) => {
    const body = paramsOf(req.body);
    if (!csrfValid(req, body.csrf)) return sendPage(res, 400, errorPage('invalid_request', 'The form has expired. Please try again.'));
    const username = typeof body.username === 'string' ? body.username.slice(0, 256) : '';
    const password = typeof body.password === 'string' ? body.password.slice(0, 1024) : '';
    const user = p.users.verify(username, password);
    if (!user) return sendPage(res, 401, loginPage({ action: '/login', csrf: csrfToken(req), username, error: 'Wrong username or password.' }));
    await backchannel(p, await req.oidcSessions.login(user.username, { amr: ['pwd'], validFor: p.loginLifetime }));
    await saveSession(req);
    res.redirect(303, '/account');
  });

  return router;
}

function csrfMatches(ix: Interaction, presented: unknown): boolean {
  return typeof presented === 'string' && secretsEqual(presented, ix.csrf);
}
