// Builds the peer's models with the same fields its own endpoints set, so that what the
// benchmarks store is what a real login, consent and /token call would store:
//   login + consent (lib/actions/authorization/resume.js, session.js): Session + Grant
//   authorization endpoint (lib/helpers/process_response_types.js, codeHandler): AuthorizationCode
//   /token (lib/helpers/grant_common.js, lib/actions/grants/refresh_token.js): AccessToken, RefreshToken
import type Provider from 'oidc-provider';
import type { AccessToken, AuthorizationCode, Client, RefreshToken } from 'oidc-provider';

import { ACR, AMR, CLIENT_ID, REDIRECT_URI, SCOPE, TTL, accountFor } from './constants.js';

/** What a finished login + consent leaves behind, as far as later steps need it. */
export interface Login {
  accountId: string;
  grantId: string;
  sessionUid: string;
  sid?: string | undefined;
  loginTs: number;
}

export async function benchClient(provider: Provider): Promise<Client> {
  const client = await provider.Client.find(CLIENT_ID);
  if (!client) throw new Error(`client ${CLIENT_ID} is not configured`);
  return client;
}

/** Session + Grant for (account, client), saved in the provider's order: grant first, session last. */
export async function createLogin(provider: Provider, client: Client, accountId: string): Promise<Login> {
  const loginTs = Math.floor(Date.now() / 1000);
  // A session without payload is a fresh one, as Session.get() makes it for a browser without cookie.
  const session = new provider.Session();
  session.loginAccount({ accountId, acr: ACR, amr: AMR, loginTs });

  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(SCOPE);
  const grantId = await grant.save();

  session.ensureClientContainer(client.clientId);
  session.grantIdFor(client.clientId, grantId);
  // offline_access: tokens outlive the session (the provider's expiresWithSession default), and
  // codeHandler marks the authorization as persisting logout
  session.authorizationFor(client.clientId).persistsLogout = true;
  await session.save(TTL.Session);

  return { accountId, grantId, sessionUid: session.uid, sid: session.sidFor(client.clientId), loginTs };
}

/** An AuthorizationCode with the fields codeHandler sets (no PKCE, no resource, no claims). */
export function newCode(provider: Provider, client: Client, login: Login, nonce?: string): AuthorizationCode {
  type CodeFields = ConstructorParameters<Provider['AuthorizationCode']>[0];
  // The published types demand `gty` on codes; codeHandler sets none, so neither do we.
  const fields = {
    accountId: login.accountId,
    acr: ACR,
    amr: AMR,
    authTime: login.loginTs,
    client,
    grantId: login.grantId,
    nonce,
    redirectUri: REDIRECT_URI,
    scope: SCOPE,
    sessionUid: login.sessionUid,
  } as CodeFields;
  const code = new provider.AuthorizationCode(fields);
  if (client.includeSid()) code.sid = login.sid;
  return code;
}

/** What /token copies from a code (or a login) into the tokens it issues. */
export interface TokenSource {
  accountId: string;
  grantId: string;
  sessionUid?: string | undefined;
  sid?: string | undefined;
  acr?: string | undefined;
  amr?: string[] | undefined;
  authTime?: number | undefined;
  nonce?: string | undefined;
}

export const loginSource = (login: Login): TokenSource => ({ ...login, acr: ACR, amr: AMR, authTime: login.loginTs });

export function codeSource(code: AuthorizationCode): TokenSource {
  if (!code.accountId || !code.grantId) throw new Error('code without accountId or grantId');
  const { accountId, grantId, sessionUid, sid, acr, amr, authTime, nonce } = code;
  return { accountId, grantId, sessionUid, sid, acr, amr, authTime, nonce };
}

/** The access token /token issues (createAccessToken + the grant-filtered OIDC scope). */
export function newAccessToken(provider: Provider, client: Client, src: TokenSource, gty: string): AccessToken {
  const at = new provider.AccessToken({
    accountId: src.accountId,
    client,
    grantId: src.grantId,
    gty,
    sessionUid: src.sessionUid,
    sid: src.sid,
  });
  at.scope = SCOPE;
  return at;
}

/** The refresh token a code exchange issues (grant_common.js issueTokens). */
export function newRefreshToken(provider: Provider, client: Client, src: TokenSource): RefreshToken {
  return new provider.RefreshToken({
    accountId: src.accountId,
    acr: src.acr,
    amr: src.amr,
    authTime: src.authTime,
    client,
    grantId: src.grantId,
    gty: 'authorization_code',
    nonce: src.nonce,
    rotations: 0,
    scope: SCOPE,
    sessionUid: src.sessionUid,
    sid: src.sid,
  });
}

/** The successor the refresh_token grant creates when it rotates `old`. */
export function rotatedRefreshToken(provider: Provider, client: Client, old: RefreshToken): RefreshToken {
  const rt = new provider.RefreshToken({
    accountId: old.accountId,
    acr: old.acr,
    amr: old.amr,
    authTime: old.authTime,
    claims: old.claims,
    client,
    expiresWithSession: old.expiresWithSession,
    iiat: old.iiat,
    grantId: old.grantId!,
    gty: old.gty!,
    nonce: old.nonce,
    rotations: typeof old.rotations === 'number' ? old.rotations + 1 : 1,
    scope: old.scope!,
    sessionUid: old.sessionUid,
    sid: old.sid,
  });
  if (rt.gty && !rt.gty.endsWith('refresh_token')) rt.gty = `${rt.gty} refresh_token`;
  return rt;
}

/** Runs fn(i) for i in [0, n) with `concurrency` workers; returns the results in order. */
export async function parallel<T>(n: number, fn: (i: number) => Promise<T>, concurrency = 1): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  return out;
}

/**
 * One login (Session + Grant) and one code per element, over `USERS` accounts; returns the code
 * values, ready for POST /token. `offset` keeps nonces and account spread distinct across calls.
 */
export async function mintCodes(
  provider: Provider,
  n: number,
  { concurrency = 1, offset = 0 }: { concurrency?: number; offset?: number } = {},
): Promise<string[]> {
  const client = await benchClient(provider);
  return parallel(
    n,
    async (i) => {
      const login = await createLogin(provider, client, accountFor(offset + i));
      return newCode(provider, client, login, `n-${offset + i}`).save();
    },
    concurrency,
  );
}
