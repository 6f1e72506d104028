// The peer system under test: an oidc-provider 9.x instance configured the way the shared
// peer benchmark configured it, so that figures measured here can be set beside that README.
//
// Deviations from the shared harness's defaults, both requested for the side-by-side runs:
//   - ID tokens are signed with ES256 (the shared harness defaults to RS256; its sensitivity
//     runs show ES256 costs far less per /token request, so the choice must be stated);
//   - refresh tokens rotate on every use (`rotateRefreshToken: true`).
import { randomBytes } from 'node:crypto';

import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';
import type { Account, ClientMetadata, Configuration, FindAccount } from 'oidc-provider';

import { createPeerStorage, type PeerStorage } from './adapters.js';
import { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, TTL } from './constants.js';

export * from './constants.js';

const CLIENT: ClientMetadata = {
  client_id: CLIENT_ID,
  client_secret: CLIENT_SECRET,
  // Registered as basic; oidc-provider accepts client_secret_post for such a client as well
  // (both secret-based methods are interchangeable in lib/shared/client_auth.js).
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  id_token_signed_response_alg: 'ES256',
};

/** Account lookup with no I/O, so that account loading never shows up in the figures. */
const findAccount: FindAccount = (_ctx, sub): Account | undefined => {
  if (!/^user-\d+$/.test(sub)) return undefined;
  return {
    accountId: sub,
    claims: () => ({
      sub,
      email: `${sub}@bench.invalid`,
      email_verified: true,
      name: `Bench ${sub}`,
      given_name: 'Bench',
      family_name: sub,
    }),
  };
};

async function es256SigningKey() {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'bench-es256' };
}

export interface PeerProviderOptions {
  adapter: 'memory' | 'redis';
  /** Only for `adapter: 'redis'`; loopback addresses only. */
  redisUrl?: string;
  /** Issuer URL; the HTTP child passes its real listening address. */
  issuer?: string;
}

export interface PeerProvider {
  provider: Provider;
  storage: PeerStorage;
  issuer: string;
  /** Closes the storage (Redis connection); the provider itself holds nothing open. */
  close(): Promise<void>;
}

export async function createPeerProvider(opts: PeerProviderOptions): Promise<PeerProvider> {
  const storage = await createPeerStorage(opts.adapter, opts.redisUrl);
  const issuer = opts.issuer ?? 'http://127.0.0.1';
  // Same owner check as the defaults, stated explicitly so the provider does not log
  // "you should change this" advice on every start.
  const ownTokenOnly = (_ctx: unknown, client: { clientId: string }, token: { clientId?: string | undefined }) =>
    token.clientId === client.clientId;

  const configuration: Configuration = {
    adapter: storage.adapterFactory,
    clients: [CLIENT],
    findAccount,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    ttl: { ...TTL },
    issueRefreshToken: (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    // PKCE would only be required for public clients anyway; saying so keeps minted codes
    // without a code_challenge valid at /token by intent, not by accident.
    pkce: { required: () => false },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: ownTokenOnly },
      revocation: { enabled: true, allowedPolicy: ownTokenOnly },
      userinfo: { enabled: true },
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    jwks: { keys: [await es256SigningKey()] },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx, err) => {
    console.error('peer server_error', err);
  });
  return { provider, storage, issuer, close: () => storage.close() };
}
