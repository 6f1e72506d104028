// Fixed facts of the peer setup, in a module of their own so that the load generator can use
// them without loading oidc-provider into its process.
export const CLIENT_ID = 'bench-client';
export const CLIENT_SECRET = 'bench-client-secret-for-loopback-benchmarks-only';
export const REDIRECT_URI = 'https://rp.bench.invalid/cb'; // never contacted, only compared
/** Scope of every minted code: `openid` makes /token sign an ID token, `offline_access` gives an RT. */
export const SCOPE = 'openid offline_access email profile';
export const ACR = 'urn:bench:pwd';
export const AMR = ['pwd'];
/** The benchmarks spread load over this many accounts (`user-0` .. `user-999`). */
export const USERS = 1000;

const DAY = 24 * 60 * 60;
export const TTL = {
  AccessToken: 3600,
  AuthorizationCode: 600, // long enough that pre-minted code pools do not expire mid-run
  IdToken: 3600,
  RefreshToken: 14 * DAY,
  Grant: 14 * DAY,
  Session: 14 * DAY,
  Interaction: 3600,
} as const;

export const accountFor = (i: number): string => `user-${i % USERS}`;
