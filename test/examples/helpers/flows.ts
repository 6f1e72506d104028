/**
 * Driving the provider's interactive pages like a person would, over plain HTTP: follow the
 * redirects of an authorization request, fill in the login form, answer the consent form,
 * and stop at the relying party's callback.
 */
import * as oidc from 'openid-client';
import { Agent, formsOf, type Hop } from './agent.js';

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export interface AuthorizationAttempt {
  readonly url: URL;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

/** An authorization URL with PKCE S256, state and nonce (openid-client builds it). */
export async function authorizationRequest(config: oidc.Configuration, redirectUri: string, params: Record<string, string> = {}): Promise<AuthorizationAttempt> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...params,
  });
  return { url, state, nonce, verifier };
}

/** What the walk saw on the way, for assertions. */
export interface InteractionLog {
  loginPages: number;
  consentPages: number;
}

/**
 * Walks from `start` to the first URL on `callbackOrigin`, answering login and consent pages.
 * Returns that callback URL (with `code` or `error`).
 */
export async function interact(
  agent: Agent,
  start: URL,
  callbackOrigin: string,
  who: Credentials,
  options: { decision?: 'allow' | 'deny'; log?: InteractionLog } = {},
): Promise<URL> {
  const atCallback = (u: URL) => u.origin === callbackOrigin;
  let hop: Hop = await agent.walk(start, atCallback);
  for (let i = 0; i < 6 && hop.response; i++) {
    const status = hop.response.status;
    const html = await hop.response.text();
    const forms = formsOf(html);
    const login = forms.find((f) => f.inputs.includes('password'));
    const consent = forms.find((f) => f.buttons.some((b) => b.name === 'decision'));
    if (login) {
      if (options.log) options.log.loginPages++;
      hop = await agent.submit(hop.url, login, { username: who.username, password: who.password }, atCallback);
    } else if (consent) {
      if (options.log) options.log.consentPages++;
      hop = await agent.submit(hop.url, consent, { decision: options.decision ?? 'allow' }, atCallback);
    } else {
      throw new Error(`unexpected page (${status}) at ${hop.url.pathname}: ${html.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
  }
  if (hop.response) throw new Error(`did not reach the callback; stuck at ${hop.url.pathname} (${hop.response.status})`);
  return hop.url;
}

/** A full sign-in: authorization request, pages, code exchange with openid-client. */
export async function signIn(
  agent: Agent,
  config: oidc.Configuration,
  redirectUri: string,
  who: Credentials,
  params: Record<string, string> = {},
  log?: InteractionLog,
): Promise<{ tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers; claims: oidc.IDToken; callback: URL }> {
  const attempt = await authorizationRequest(config, redirectUri, params);
  const callback = await interact(agent, attempt.url, new URL(redirectUri).origin, who, log ? { log } : {});
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: attempt.verifier,
    expectedState: attempt.state,
    expectedNonce: attempt.nonce,
    idTokenExpected: true,
    ...(params.max_age !== undefined && { maxAge: Number(params.max_age) }),
  });
  return { tokens, claims: tokens.claims()!, callback };
}
