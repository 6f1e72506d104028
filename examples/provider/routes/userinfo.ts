/**
 * The UserInfo endpoint (OIDC Core §5.3) with bearer tokens in the Authorization header
 * (RFC 6750 §2.1). A token that is not active for any reason — revoked, expired, its grant
 * revoked, its browser session logged out — is 401 `invalid_token` (field fault 11).
 */
import type { ServerResponse } from 'node:http';
import type { ValidatedToken } from '../../../src/index.js';
import type { ApiRequest, Endpoints } from '../api.js';
import type { Provider } from '../context.js';
import { repeatsAuthorization } from '../headers.js';
import { sendJson } from '../json.js';
import { bearerChallenge, isCallerFault, OAuthError } from '../oauth-errors.js';

export function userinfoEndpoints(p: Provider): Endpoints {
  async function userinfo(req: ApiRequest, res: ServerResponse): Promise<void> {
    if (repeatsAuthorization(req.rawHeaders)) {
      // RFC 6750 §3.1: more than one way of presenting a token is invalid_request — and node
      // would show only the first of the Authorization headers in req.headers.
      throw new OAuthError('invalid_request', 'send one Authorization header, not several', 400, {
        'WWW-Authenticate': bearerChallenge(p.issuer, 'invalid_request'),
      });
    }
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer +([\x21-\x7e]{1,4096})\s*$/i.exec(header) : null;
    if (!match) {
      // RFC 6750 §3.1: no credentials at all → a bare challenge without an error code.
      const error = header === undefined ? undefined : 'invalid_request';
      throw new OAuthError(error ?? 'invalid_token', 'a bearer access token is required', header === undefined ? 401 : 400, {
        'WWW-Authenticate': bearerChallenge(p.issuer, error),
      });
    }
    let v: ValidatedToken;
    try {
      v = await p.manager.validateToken(match[1]!, { tokenClass: 'access_token' });
    } catch (e) {
      if (!isCallerFault(e)) throw e;
      throw new OAuthError('invalid_token', 'the access token is not active', 401, {
        'WWW-Authenticate': bearerChallenge(p.issuer, 'invalid_token', 'the access token is not active'),
      });
    }
    if (!v.scope.includes('openid')) {
      throw new OAuthError('insufficient_scope', 'the openid scope is required', 403, {
        'WWW-Authenticate': bearerChallenge(p.issuer, 'insufficient_scope'),
      });
    }
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, { ...p.users.claimsFor(v.userId, v.scope), sub: v.sub });
  }

  return { '/userinfo': { GET: userinfo, POST: userinfo } };
}
