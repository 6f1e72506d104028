/**
 * The token endpoint (RFC 6749 §3.2, OIDC Core §3.1.3): `authorization_code` (with PKCE,
 * RFC 7636) and `refresh_token` (with rotation). All policy — single use, reuse detection,
 * rotation, scope narrowing — is the library's; this route authenticates the client, reads
 * the parameters and turns outcomes into RFC 6749 §5 responses.
 */
import type { ServerResponse } from 'node:http';
import type { TokenSet } from '../../../src/index.js';
import type { ApiRequest, Endpoints } from '../api.js';
import type { ClientMetadata } from '../clients.js';
import type { Provider } from '../context.js';
import { sendJson } from '../json.js';
import { grantError, OAuthError } from '../oauth-errors.js';
import { LIMITS, optionalParam, paramsOf, requiredParam, spaceList } from '../params.js';

/** RFC 6749 §5.1: a successful token response; never cached. */
function sendTokens(res: ServerResponse, t: TokenSet): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  sendJson(res, 200, {
    access_token: t.accessToken.value,
    token_type: 'Bearer',
    expires_in: t.expiresIn,
    scope: t.scope.join(' '),
    ...(t.refreshToken && { refresh_token: t.refreshToken.value }),
    ...(t.idToken && { id_token: t.idToken.value }),
  });
}

function allows(client: ClientMetadata, grantType: string): void {
  if (!client.grant_types.includes(grantType)) {
    throw new OAuthError('unauthorized_client', `this client may not use the ${grantType} grant`);
  }
}

export function tokenEndpoints(p: Provider): Endpoints {
  async function authorizationCode(req: ApiRequest, res: ServerResponse, client: ClientMetadata): Promise<void> {
    allows(client, 'authorization_code');
    const body = paramsOf(req.body);
    const code = requiredParam(body, 'code', LIMITS.token);
    const redirectUri = requiredParam(body, 'redirect_uri', LIMITS.uri);
    const codeVerifier = optionalParam(body, 'code_verifier', 256);
    let tokens: TokenSet;
    try {
      tokens = await p.manager.redeemCode(code, {
        clientId: client.client_id,
        redirectUri,
        ...(codeVerifier !== undefined && { codeVerifier }),
        // OIDC Core §11: refresh tokens only for `offline_access` (the library's default), and
        // only to clients registered for the refresh_token grant.
        ...(!client.grant_types.includes('refresh_token') && { issue: { refreshToken: false } }),
      });
    } catch (e) {
      throw grantError(e);
    }
    sendTokens(res, tokens);
  }

  async function refreshToken(req: ApiRequest, res: ServerResponse, client: ClientMetadata): Promise<void> {
    allows(client, 'refresh_token');
    const body = paramsOf(req.body);
    const value = requiredParam(body, 'refresh_token', LIMITS.token);
    const scope = optionalParam(body, 'scope', LIMITS.scope);
    let tokens: TokenSet;
    try {
      tokens = await p.manager.refresh(value, { clientId: client.client_id, ...(scope !== undefined && { scope: spaceList(scope) }) });
    } catch (e) {
      throw grantError(e);
    }
    sendTokens(res, tokens);
  }

  async function token(req: ApiRequest, res: ServerResponse): Promise<void> {
    const client = p.clients.authenticate(req, p.issuer);
    const grantType = requiredParam(paramsOf(req.body), 'grant_type', 64);
    if (grantType === 'authorization_code') return authorizationCode(req, res, client);
    if (grantType === 'refresh_token') return refreshToken(req, res, client);
    throw new OAuthError('unsupported_grant_type', 'supported: authorization_code, refresh_token');
  }

  return { '/token': { POST: token } };
}
