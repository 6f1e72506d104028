/**
 * oidc-sessions: the session tree of an OpenID Connect provider and its Express middleware.
 * @packageDocumentation
 */
export * from './errors.js';
export type * from './tree/records.js';
export { DEFAULT_USAGE_RULES } from './tree/usage-rules.js';
export { MAX_ID_LENGTH, MAX_TOKEN_LENGTH } from './tree/validate.js';
export type * from './store/store.js';
export { MemoryStore } from './store/memory-store.js';
export { RedisStore, type RedisStoreOptions, type RedisLikeClient } from './redis/redis-store.js';
export { SessionManager } from './manager/session-manager.js';
export type {
  AuthnEventInput,
  CreateSessionInput,
  GrantFields,
  IssueOptions,
  MintOptions,
  RedeemOptions,
  RefreshOptions,
  SessionEvents,
} from './manager/session-manager.js';
export type { SessionManagerOptions, SessionSecrets, JwtOptions, RefreshPolicy } from './manager/options.js';
export type * from './manager/results.js';
export type { SessionPath, SessionIdKey } from './crypto/session-id.js';
export { sectorIdentifierOf } from './crypto/subject.js';
export {
  oidcSessions,
  oidcSessionsErrorHandler,
  errorAnswer,
  sessionCookie,
  checkCookiePolicy,
  LoginRequired,
  Misconfigured,
} from './express/index.js';
export type * from './express/types.js';
export type { ErrorHandlerOptions, ErrorAnswer, SessionCookieOptions } from './express/index.js';
