/**
 * What every route of the provider shares: configuration, registries, the session manager,
 * the signer and the endpoint URLs.
 */
import type { SessionManager } from '../../src/index.js';
import type { Signer } from './backchannel.js';
import type { ClientRegistry } from './clients.js';
import type { UserDirectory } from './users.js';

export interface Endpoints {
  readonly authorization: string;
  readonly token: string;
  readonly userinfo: string;
  readonly jwks: string;
  readonly endSession: string;
  readonly introspection: string;
  readonly revocation: string;
  readonly account: string;
}

/** Where the provider writes its operational messages. Never given token values or secrets. */
export interface ProviderLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface Provider {
  readonly issuer: string;
  readonly endpoints: Endpoints;
  readonly clients: ClientRegistry;
  readonly users: UserDirectory;
  readonly manager: SessionManager;
  readonly signer: Signer;
  /** The public signing key (JWKS). */
  readonly publicJwk: Readonly<Record<string, unknown>>;
  readonly now: () => number;
  readonly log: ProviderLogger;
  /** Seconds a login may be relied on (also the session cookie's lifetime). */
  readonly loginLifetime: number;
  readonly backchannelTimeoutMs: number;
}

/** The scopes this provider knows; others in a request are ignored (OIDC Core §3.1.2.1). */
export const SUPPORTED_SCOPES = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access'] as const;

export const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze({
  openid: 'Know who you are (your subject identifier)',
  profile: 'Your name and basic profile',
  email: 'Your email address',
  address: 'Your postal address',
  phone: 'Your phone number',
  offline_access: 'Keep access while you are signed out (refresh tokens)',
});

export function endpointsFor(issuer: string): Endpoints {
  return {
    authorization: `${issuer}/authorize`,
    token: `${issuer}/token`,
    userinfo: `${issuer}/userinfo`,
    jwks: `${issuer}/jwks`,
    endSession: `${issuer}/session/end`,
    introspection: `${issuer}/token/introspection`,
    revocation: `${issuer}/token/revocation`,
    account: `${issuer}/account`,
  };
}
