/**
 * OpenID Connect Discovery 1.0 (§3) and the JWK Set (RFC 7517 §5).
 */
import { Router } from 'express';
import { SCOPE_CLAIMS } from '../users.js';
import { SUPPORTED_SCOPES, type Provider } from '../context.js';

export function discoveryRoutes(p: Provider): Router {
  const e = p.endpoints;
  const metadata = Object.freeze({
    issuer: p.issuer,
    authorization_endpoint: e.authorization,
    token_endpoint: e.token,
    userinfo_endpoint: e.userinfo,
    jwks_uri: e.jwks,
    end_session_endpoint: e.endSession,
    introspection_endpoint: e.introspection,
    revocation_endpoint: e.revocation,
    scopes_supported: SUPPORTED_SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    subject_types_supported: ['public', 'pairwise'],
    id_token_signing_alg_values_supported: ['ES256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    code_challenge_methods_supported: ['S256'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'amr', 'sid', ...new Set(Object.values(SCOPE_CLAIMS).flat())],
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    // RFC 9207: the authorization response carries `iss`, so clients can detect mix-up attacks.
    authorization_response_iss_parameter_supported: true,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    frontchannel_logout_supported: false,
  });
  const jwks = Object.freeze({ keys: [p.publicJwk] });

  const router = Router();
  router.get('/.well-known/openid-configuration', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(metadata);
  });
  router.get('/jwks', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.type('application/jwk-set+json').send(JSON.stringify(jwks));
  });
  return router;
}
