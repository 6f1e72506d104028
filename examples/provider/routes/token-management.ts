/**
 * Token introspection (RFC 7662) and revocation (RFC 7009). Both require client
 * authentication; a client only ever learns about, or revokes, its own tokens.
 */
import type { ServerResponse } from 'node:http';
import type { IntrospectionResponse, TokenSessionInfo } from '../../../src/index.js';
import type { ApiRequest, Endpoints } from '../api.js';
import type { Provider } from '../context.js';
import { sendJson } from '../json.js';
import { isCallerFault } from '../oauth-errors.js';
import { LIMITS, paramsOf, requiredParam } from '../params.js';

/** Only access and refresh tokens are introspectable; codes and ID tokens are not (RFC 7662 §2.2). */
const INTROSPECTABLE = ['access_token', 'refresh_token'];

export function tokenManagementEndpoints(p: Provider): Endpoints {
  async function introspection(req: ApiRequest, res: ServerResponse): Promise<void> {
    const client = p.clients.authenticate(req, p.issuer);
    const token = requiredParam(paramsOf(req.body), 'token', LIMITS.token);
    // RFC 7662 §2.2: anything not active — unknown, expired, revoked, another client's — is
    // just `{"active": false}`; the introspect call already answers that way.
    const answer: IntrospectionResponse = await p.manager.introspect(token, { clientId: client.client_id, tokenClasses: INTROSPECTABLE });
    res.setHeader('Cache-Control', 'no-store');
    sendJson(res, 200, answer);
  }

  async function revocation(req: ApiRequest, res: ServerResponse): Promise<void> {
    const client = p.clients.authenticate(req, p.issuer);
    const token = requiredParam(paramsOf(req.body), 'token', LIMITS.token);
    let info: TokenSessionInfo | undefined;
    try {
      info = await p.manager.getSessionInfoByToken(token);
    } catch (e) {
      if (!isCallerFault(e)) throw e;
    }
    // RFC 7009 §2.2: an unknown or already invalid token is answered 200 as well; so is another
    // client's token, which this client must not be able to revoke or even detect.
    // A used-up token (info.marker, no info.token) is invalid already: nothing to revoke.
    if (info?.token && info.clientId === client.client_id) {
      try {
        if (info.token.class === 'refresh_token') {
          // RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access tokens of
          // the same grant — so the whole grant goes.
          await p.manager.revokeGrant(info.sessionId);
        } else if (info.token.class === 'access_token') {
          await p.manager.revokeToken(info.sessionId, token);
        }
      } catch (e) {
        if (!isCallerFault(e)) throw e;
      }
    }
    res.setHeader('Cache-Control', 'no-store');
    res.statusCode = 200;
    res.end();
  }

  return { '/token/introspection': { POST: introspection }, '/token/revocation': { POST: revocation } };
}
