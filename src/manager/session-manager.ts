/**
 * The session manager (SPEC §5): the seed API of the reference, with its defects fixed, and the
 * token lifecycle (mint, redeem, refresh, validate, introspect, logout, purge, dump/load).
 *
 * All policy lives here; the store only keeps records and performs the few compare-and-set
 * steps that must be atomic. Every public method validates its arguments first and either
 * returns or throws one of the typed errors of `errors.ts`; nothing is written on failure.
 */
import { EventEmitter } from 'node:events';
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  InactiveToken,
  InvalidInput,
  InvalidSessionId,
  MintingNotAllowed,
  OidcSessionsError,
  StoreUnavailable,
  TokenReused,
  UnknownSession,
  UnknownToken,
  WrongClient,
} from '../errors.js';
import { SessionIdCodec, type SessionPath } from '../crypto/session-id.js';
import { computeSub } from '../crypto/subject.js';
import { hashTokenValue, newTokenValue, randomId, routeOf, routeOfValue, ROUTE_LENGTH } from '../crypto/token-value.js';
import { encodeParts } from '../crypto/encoding.js';
import { Memo } from '../crypto/memo.js';
import type { GrantPath, SessionStore, TokenLookup, TreeDump } from '../store/store.js';
import { browserSessionLive, grantInactiveReason, tokenInactiveReason } from '../tree/activity.js';
import type {
  AuthnEvent,
  ClientRecord,
  CodeBinding,
  GrantClaims,
  GrantContext,
  GrantRecord,
  SubjectType,
  TokenClass,
  TokenContext,
  TokenRecord,
  UsageRules,
} from '../tree/records.js';
import { authnEventRecord, grantRecord, tokenRecord } from '../tree/record-layout.js';
import { MAX_LIFETIME_SECONDS, normalizeRuleTable, normalizeRules } from '../tree/usage-rules.js';
import {
  cloneJson,
  cloneJsonObject,
  isArray,
  optionalId,
  ownProperty,
  requireObject,
  requireFiniteNumber,
  requireId,
  requirePlainObject,
  requireScopes,
  requireTokenValue,
} from '../tree/validate.js';
import { validateDump } from './dump.js';
import { SessionInfoResult, ValidatedTokenResult, type GrantSealer } from './session-results.js';
import { JwtCodec, jwtReferenceHash, looksLikeJwt } from './jwt-tokens.js';
import { resolveOptions, type ResolvedOptions, type SessionManagerOptions } from './options.js';
import { isValidCodeChallenge, pkceMatches } from './pkce.js';
import type {
  IntrospectionResponse,
  LogoutNotice,
  MintedToken,
  SessionInfo,
  SessionInfoInclude,
  TokenSessionInfo,
  TokenSet,
  UserSessions,
  ValidatedToken,
} from './results.js';

/** An authentication event as callers pass it; times in ms, `validFor` in seconds. */
export interface AuthnEventInput {
  readonly userId?: string;
  readonly authnInfo?: string;
  readonly amr?: readonly string[];
  readonly authnTime?: number;
  readonly validUntil?: number;
  readonly validFor?: number;
}

/** Fields of a new grant (`addGrant`); `createSession` derives most of them from the request. */
export interface GrantFields {
  readonly scope?: readonly string[] | string;
  readonly claims?: GrantClaims;
  readonly resources?: readonly string[];
  readonly authRequest?: Readonly<Record<string, unknown>>;
  readonly authnEvent?: AuthnEventInput;
  readonly subType?: SubjectType;
  readonly sectorIdentifier?: string;
  readonly usageRules?: Readonly<Record<string, Partial<UsageRules>>>;
  /** Grant lifetime in seconds (default: the manager's `grantLifetime`). */
  readonly expiresIn?: number;
  readonly browserSessionId?: string;
}

export interface CreateSessionInput {
  readonly authnEvent: AuthnEventInput;
  readonly authRequest: Readonly<Record<string, unknown>>;
  readonly userId: string;
  readonly clientId?: string;
  readonly subType?: SubjectType;
  readonly sectorIdentifier?: string;
  readonly tokenUsageRules?: Readonly<Record<string, Partial<UsageRules>>>;
  readonly scopes?: readonly string[] | string;
  readonly claims?: GrantClaims;
  readonly resources?: readonly string[];
  readonly browserSessionId?: string;
  readonly expiresIn?: number;
}

export interface MintOptions {
  /** Value of the parent token; without it the token is minted from the grant itself. */
  readonly basedOn?: string;
  readonly scope?: readonly string[] | string;
  readonly resources?: readonly string[];
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly usageRules?: Partial<UsageRules>;
  /** Bind the token to a browser session (inherited from the parent when omitted). */
  readonly browserSessionId?: string;
  /** Authorization codes: redirect URI, PKCE challenge and nonce to check at redemption. */
  readonly codeBinding?: CodeBinding;
  /** Extra claims for an ID token. */
  readonly idTokenClaims?: Readonly<Record<string, unknown>>;
}

export interface RedeemOptions {
  readonly clientId: string;
  readonly redirectUri?: string;
  readonly codeVerifier?: string;
  readonly issue?: IssueOptions;
}

export interface RefreshOptions {
  readonly clientId: string;
  readonly scope?: readonly string[] | string;
  readonly issue?: Pick<IssueOptions, 'idToken' | 'idTokenClaims'>;
}

export interface IssueOptions {
  /** Issue a refresh token (default: when the scope has `offline_access` and the code may mint one). */
  readonly refreshToken?: boolean;
  /** Issue an ID token (default: when the scope has `openid` and `jwt` is configured). */
  readonly idToken?: boolean;
  /** Extra claims for the ID token (profile claims of the user, for example). */
  readonly idTokenClaims?: Readonly<Record<string, unknown>>;
}

/** Audit events; subscribe with `manager.on(name, listener)`. Payloads never hold token values. */
export interface SessionEvents {
  'grant.created': [{ userId: string; clientId: string; grantId: string }];
  'grant.revoked': [{ userId: string; clientId: string; grantId: string; reason: string }];
  'client_session.revoked': [{ userId: string; clientId: string }];
  'token.revoked': [{ userId: string; clientId: string; grantId: string; tokenId: string; count: number }];
  'token.reused': [{ userId: string; clientId: string; grantId: string; tokenId: string; class: string; revoked: string }];
  'code.redeemed': [{ userId: string; clientId: string; grantId: string; tokenId: string }];
  'refresh.rotated': [{ userId: string; clientId: string; grantId: string; tokenId: string }];
  'user.logout': [{ userId: string; keepOffline: boolean; notices: number }];
  'session.removed': [{ userId: string; clientId?: string; grantId?: string }];
}

const MAX_DUMP_RECORDS = 10_000_000;
/**
 * Remembered routes and `sub` values of recent users. Each is an HMAC, which Node computes in
 * microseconds, and one code exchange needs the route of the same user up to seven times.
 */
const MEMO_CAPACITY = 4096;
/** Shared by every grant that has none: frozen, so no grant can change another's. */
const NO_CLAIMS: GrantClaims = Object.freeze({});
const NO_RESOURCES: readonly string[] = Object.freeze([]);
const MEMO_MAX_KEY_LENGTH = 512;

/**
 * Keeps the session tree of an OpenID provider: user → client → grant → tokens.
 *
 * @example
 * ```ts
 * const manager = new SessionManager({ secrets });
 * const sessionId = await manager.createSession({ userId: 'alice', authnEvent: {}, authRequest: { client_id: 'app', scope: 'openid', response_type: 'code' } });
 * const { value: code } = await manager.mintToken(sessionId, 'authorization_code');
 * const tokens = await manager.redeemCode(code, { clientId: 'app' });
 * await manager.validateToken(tokens.accessToken.value, { tokenClass: 'access_token' });
 * ```
 */
export class SessionManager extends EventEmitter<SessionEvents> {
  readonly #o: ResolvedOptions;
  readonly #ids: SessionIdCodec;
  readonly #store: SessionStore;
  readonly #now: () => number;
  readonly #jwt: JwtCodec | undefined;
  /** Route and one shared copy of the id, per recent user (see #user). */
  readonly #users = new Memo<UserKey>(MEMO_CAPACITY, MEMO_MAX_KEY_LENGTH);
  /** The last authentication event recorded per recent user (see #authnEvent). */
  readonly #authnEvents = new Memo<AuthnEvent>(MEMO_CAPACITY, MEMO_MAX_KEY_LENGTH);
  /** Seals a grant's session id; handed to results that seal it lazily (session-results.ts). */
  readonly #sealer: GrantSealer = (g) => this.#sealGrant(g);
  readonly #publicSubs = new Memo<string>(MEMO_CAPACITY, MEMO_MAX_KEY_LENGTH);
  readonly #pairwiseSubs = new Memo<string>(MEMO_CAPACITY, MEMO_MAX_KEY_LENGTH);

  constructor(options: SessionManagerOptions = {}) {
    super();
    this.#o = resolveOptions(options);
    this.#ids = new SessionIdCodec(this.#o.sessionIdKeys);
    this.#store = this.#o.store;
    claimStore(this.#store, this.#o.routeKey);
    this.#now = this.#o.clock;
    this.#jwt = this.#o.jwt && new JwtCodec(this.#o.jwt);
  }

  /** The store this manager writes to. */
  get store(): SessionStore {
    return this.#store;
  }

  // ---------------------------------------------------------------- seed API

  /** Creates user and client nodes as needed and a new grant; returns the grant's session id. */
  async createSession(input: CreateSessionInput): Promise<string> {
    const i = requirePlainObject(input, 'createSession input') as unknown as CreateSessionInput;
    const userId = requireId(i.userId, 'userId');
    const authRequest = requirePlainObject(i.authRequest, 'authRequest');
    const requestClient = optionalId(authRequest.client_id, 'authRequest.client_id');
    const clientId = optionalId(i.clientId, 'clientId') ?? requestClient;
    if (clientId === undefined) throw new InvalidInput('clientId or authRequest.client_id is required');
    if (requestClient !== undefined && requestClient !== clientId) {
      throw new InvalidInput('clientId does not match authRequest.client_id'); // B-58
    }
    // `i` and `authRequest` are own-property copies already: the fields go on without a second
    // copy, in one literal (absent fields stay undefined, which every field check treats as absent).
    return this.#addGrant(userId, clientId, {
      authRequest,
      authnEvent: i.authnEvent,
      scope: i.scopes ?? (authRequest.scope as string | readonly string[] | undefined) ?? [],
      subType: i.subType,
      sectorIdentifier: i.sectorIdentifier,
      usageRules: i.tokenUsageRules,
      claims: i.claims,
      resources: i.resources,
      browserSessionId: i.browserSessionId,
      expiresIn: i.expiresIn,
    });
  }

  /** Adds a grant with the given fields under (user, client); returns its session id. */
  async addGrant(userId: string, clientId: string, fields: GrantFields = {}): Promise<string> {
    return this.#addGrant(requireId(userId, 'userId'), requireId(clientId, 'clientId'), requirePlainObject(fields, 'grant fields') as GrantFields);
  }

  /** addGrant with `f` an own-property copy already. */
  async #addGrant(userId: string, clientId: string, f: GrantFields): Promise<string> {
    const now = this.#now();
    const user = this.#user(userId);
    userId = user.userId;
    const subType = f.subType ?? 'public';
    if (subType !== 'public' && subType !== 'pairwise' && subType !== 'ephemeral') {
      throw new InvalidInput('subType must be public, pairwise or ephemeral');
    }
    const sector = optionalId(f.sectorIdentifier, 'sectorIdentifier');
    const lifetime = f.expiresIn === undefined ? this.#o.grantLifetimeMs : requirePositive(f.expiresIn, 'expiresIn') * 1000;
    const grant = grantRecord({
      id: randomId(),
      userId,
      clientId,
      scope: requireScopes(f.scope ?? []),
      claims: (f.claims === undefined ? NO_CLAIMS : cloneJsonObject(f.claims, 'claims')) as GrantClaims,
      resources: f.resources === undefined ? NO_RESOURCES : requireScopes(f.resources, 'resources'),
      authRequest: (f.authRequest === undefined ? {} : cloneJsonObject(f.authRequest, 'authRequest')) as Record<string, unknown>,
      authnEvent: this.#authnEvent(f.authnEvent === undefined ? {} : f.authnEvent, userId, now),
      sub: this.#sub(subType, userId, sector),
      subType,
      usageRules: normalizeRuleTable(f.usageRules, this.#o.rules, 'usageRules'),
      issuedAt: now,
      notBefore: now,
      expiresAt: now + lifetime,
      revoked: false,
      browserSessionId: f.browserSessionId === undefined ? undefined : requireId(f.browserSessionId, 'browserSessionId', 256),
    });
    await this.#store.createGrant(user.route, grant, now);
    this.#emit('grant.created', { userId, clientId, grantId: grant.id });
    return this.#ids.seal({ userId, clientId, grantId: grant.id });
  }

  /** The token of that grant with that value, or undefined (also for another grant's token). */
  async findToken(sessionId: string, tokenValue: string): Promise<TokenRecord | undefined> {
    const path = this.#grantPath(sessionId);
    const value = requireTokenValue(tokenValue);
    const found = await this.#lookup(value);
    if (!found?.token || !samePath(found.grant, path)) return undefined;
    return found.token;
  }

  async getAuthenticationEvent(sessionId: string): Promise<AuthnEvent> {
    return (await this.#grantContext(this.#grantPath(sessionId))).grant.authnEvent;
  }

  /** The client session node named by a 2- or 3-part session id. */
  async getClientSessionInfo(sessionId: string): Promise<ClientRecord> {
    const p = this.#openSessionId(sessionId);
    if (p.clientId === undefined) throw new InvalidSessionId('session id does not name a client session');
    const view = await this.#store.getClient(this.#route(p.userId), p.userId, p.clientId);
    if (!view) throw new UnknownSession();
    return view.client;
  }

  /**
   * The newest active grant of (user, client) whose request had this response type (order of
   * the space-separated values does not matter), or undefined. Used to reuse consent.
   */
  async getGrantByResponseType(userId: string, clientId: string, responseType = 'code'): Promise<GrantRecord | undefined> {
    requireId(userId, 'userId');
    requireId(clientId, 'clientId');
    const wanted = responseTypeKey(requireId(responseType, 'responseType', 256));
    const now = this.#now();
    for (const ctx of await this.#store.listGrants(this.#route(userId), userId, clientId)) {
      const rt = ctx.grant.authRequest.response_type;
      if (typeof rt === 'string' && responseTypeKey(rt) === wanted && !grantInactiveReason(ctx, now)) return ctx.grant;
    }
    return undefined;
  }

  async getSessionInfo(sessionId: string, include: SessionInfoInclude = {}): Promise<SessionInfo> {
    const path = this.#grantPath(sessionId);
    include = optionsOf<SessionInfoInclude>(include, 'include');
    return this.#info(await this.#grantContext(path), include, sessionId);
  }

  /**
   * Session info of the grant holding a token, with the token and whether it is active (and why
   * not). A used-up single-use token answers with its reuse marker in place of the token.
   */
  async getSessionInfoByToken(tokenValue: string, include: SessionInfoInclude = {}): Promise<TokenSessionInfo> {
    include = optionsOf<SessionInfoInclude>(include, 'include');
    const found = await this.#lookup(requireTokenValue(tokenValue));
    if (!found) throw new UnknownToken();
    if (!found.token) return { ...this.#info(found, include), marker: found.marker, active: false, inactiveReason: 'used' };
    const reason = tokenInactiveReason(found as TokenContext, this.#now());
    return { ...this.#info(found, include), token: found.token, active: reason === undefined, ...(reason && { inactiveReason: reason }) };
  }

  /** Session ids of all live grants of the user. */
  async getSidsByUserId(userId: string): Promise<string[]> {
    requireId(userId, 'userId');
    const now = this.#now();
    const grants = await this.#store.listGrants(this.#route(userId), userId);
    return grants.filter((g) => !grantInactiveReason(g, now)).map((g) => this.#sealGrant(g.grant));
  }

  /** The user node and the ids of its client sessions. */
  async getUserInfo(userId: string): Promise<{ user: import('../tree/records.js').UserRecord; clientIds: readonly string[] }> {
    requireId(userId, 'userId');
    const view = await this.#store.getUser(this.#route(userId), userId);
    if (!view) throw new UnknownSession();
    return view;
  }

  /** Grants under a client session (2- or 3-part session id), or under a user (and client). */
  async grants(target: string | { userId: string; clientId?: string }): Promise<GrantRecord[]> {
    let userId: string;
    let clientId: string | undefined;
    if (typeof target === 'string') {
      const p = this.#openSessionId(target);
      if (p.clientId === undefined) throw new InvalidSessionId('session id does not name a client session');
      ({ userId, clientId } = p);
    } else {
      const t = requirePlainObject(target, 'grants target');
      userId = requireId(t.userId, 'userId');
      clientId = optionalId(t.clientId, 'clientId');
    }
    const list = await this.#store.listGrants(this.#route(userId), userId, clientId);
    return list.map((c) => c.grant);
  }

  /** Revokes a client session: every grant and token under it becomes inactive. */
  async revokeClientSession(sessionId: string): Promise<void> {
    const p = this.#openSessionId(sessionId);
    if (p.clientId === undefined) throw new InvalidSessionId('session id does not name a client session');
    if (!(await this.#store.revokeClient(this.#route(p.userId), p.userId, p.clientId))) throw new UnknownSession();
    this.#emit('client_session.revoked', { userId: p.userId, clientId: p.clientId });
  }

  /** Revokes a grant and every token under it. */
  async revokeGrant(sessionId: string): Promise<void> {
    const path = this.#grantPath(sessionId);
    if (!(await this.#store.revokeGrant(path))) throw new UnknownSession();
    this.#emit('grant.revoked', { userId: path.userId, clientId: path.clientId, grantId: path.grantId, reason: 'revoked' });
  }

  /**
   * Revokes one token of the grant and every token minted from it, however long the chain.
   * Descendants are always cut, because a token under a revoked ancestor is inactive (SPEC §4);
   * `recursive` is accepted for parity with the reference API.
   */
  async revokeToken(sessionId: string, tokenValue: string, options: { recursive?: boolean } = {}): Promise<number> {
    const path = this.#grantPath(sessionId);
    optionalBoolean(optionsOf<{ recursive?: boolean }>(options, 'revoke options').recursive, 'recursive');
    const found = await this.#lookup(requireTokenValue(tokenValue));
    if (!found || !samePath(found.grant, path)) throw new UnknownToken();
    const tokenId = found.token?.id ?? found.marker!.tokenId;
    const count = await this.#store.revokeToken(path, tokenId);
    this.#emit('token.revoked', { userId: path.userId, clientId: path.clientId, grantId: path.grantId, tokenId, count });
    return count;
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Mints a token of `tokenClass` from the grant, or from the parent token whose value is
   * `basedOn`. Checks that the parent may mint the class, that everything above is active, and
   * that the scope is within the parent's (or the grant's). Returns the value once.
   */
  async mintToken(sessionId: string, tokenClass: TokenClass, options: MintOptions = {}): Promise<MintedToken> {
    const path = this.#grantPath(sessionId);
    const cls = requireId(tokenClass, 'tokenClass', 64);
    const o = requirePlainObject(options, 'mint options') as MintOptions;
    if (o.basedOn === undefined) return this.#mintFromGrant(path, cls, o);
    const found = await this.#lookup(requireTokenValue(o.basedOn));
    if (!found || !samePath(found.grant, path)) throw new UnknownToken('parent token not found in this grant');
    if (!found.token) throw new MintingNotAllowed('parent token is used up');
    const reason = tokenInactiveReason(found as TokenContext, this.#now());
    if (reason) throw new MintingNotAllowed(`parent token is not active: ${reason}`);
    if (!found.token.usageRules.supportsMinting.includes(cls)) throw new MintingNotAllowed(`a ${found.token.class} may not mint ${cls}`);
    if (!Object.hasOwn(found.grant.usageRules, cls)) throw new MintingNotAllowed(`unknown token class ${cls}`);
    const minted = await this.#buildToken(found, cls, found.token, o);
    if (!(await this.#store.addTokens(path, [minted.token]))) throw new UnknownSession();
    return minted;
  }

  /** {@link mintToken} from the grant itself: the checks and the token rest on the grant's records. */
  async #mintFromGrant(path: GrantPath, cls: string, o: MintOptions): Promise<MintedToken> {
    const build = (ctx: GrantContext): MintedToken | Promise<MintedToken> => {
      const reason = grantInactiveReason(ctx, this.#now());
      if (reason) throw new MintingNotAllowed(`grant is not active: ${reason}`);
      if (!Object.hasOwn(ctx.grant.usageRules, cls)) throw new MintingNotAllowed(`unknown token class ${cls}`);
      return this.#buildToken(ctx, cls, undefined, o);
    };
    if (this.#store.mintFromGrant) {
      // One step on stores that fold the grant's read into the write (RedisStore: one round
      // trip); they write only if the records `build` decided on are still the current ones.
      let minted: MintedToken | undefined;
      const written = await this.#store.mintFromGrant(path, async (ctx) => [(minted = await build(ctx)).token]);
      if (!written || !minted) throw new UnknownSession();
      return minted;
    }
    const minted = await build(await this.#grantContext(path));
    if (!(await this.#store.addTokens(path, [minted.token]))) throw new UnknownSession();
    return minted;
  }

  /**
   * Redeems an authorization code in one atomic step (RFC 6749 §4.1.3, RFC 7636): checks the
   * client, expiry, PKCE verifier and redirect URI, marks the code used and mints the tokens.
   * Of any number of concurrent redemptions exactly one succeeds; a repeated one throws
   * {@link TokenReused} and revokes what the code produced (policy `reusePolicy.code`).
   */
  async redeemCode(code: string, options: RedeemOptions): Promise<TokenSet> {
    const value = requireTokenValue(code);
    const o = requirePlainObject(options, 'redeem options') as unknown as RedeemOptions;
    const clientId = requireId(o.clientId, 'clientId');
    const redirectUri = optionalId(o.redirectUri, 'redirectUri');
    const verifier = o.codeVerifier === undefined ? undefined : requireId(o.codeVerifier, 'codeVerifier', 256);
    const issue = issueOptions(o.issue);
    const hash = hashTokenValue(value); // once: for the lookup and for the consume
    const found = await this.#lookup(value, hash);
    const cls = found?.token?.class ?? found?.marker?.class;
    if (!found || cls !== 'authorization_code') throw new UnknownToken();
    if (found.grant.clientId !== clientId) throw new WrongClient();
    if (found.marker) return this.#reused(value, found, this.#o.codeReuse, 0);
    const tctx = found as TokenContext;
    const now = this.#now();
    const reason = tokenInactiveReason(tctx, now);
    if (reason) throw new InactiveToken(reason);
    const code_ = tctx.token;
    if (!pkceMatches(code_.codeBinding, verifier)) throw new InvalidInput('code_verifier does not match the code challenge');
    if (code_.codeBinding?.redirectUri !== undefined && code_.codeBinding.redirectUri !== redirectUri) {
      throw new InvalidInput('redirect_uri does not match the authorization request');
    }
    const scope = code_.scope;
    const mint: MintedToken[] = [];
    const access = await this.#buildToken(tctx, 'access_token', code_, {}, now);
    mint.push(access);
    const wantsRefresh = issue.refreshToken ?? scope.includes('offline_access');
    let refresh: MintedToken | undefined;
    if (wantsRefresh && code_.usageRules.supportsMinting.includes('refresh_token')) {
      refresh = await this.#buildToken(tctx, 'refresh_token', code_, {}, now);
      mint.push(refresh);
    }
    const idToken = await this.#maybeIdToken(tctx, code_, issue, scope, now);
    if (idToken) mint.push(idToken);
    this.#checkMinting(code_, mint);
    const result = await this.#store.consume(this.#route(code_.userId), hash, {
      tokenId: code_.id,
      now,
      mint: mint.map((m) => m.token),
      onReuse: this.#o.codeReuse,
      graceMs: 0,
    });
    if (result.status === 'reused') return this.#reusedResult(tctx, code_.id, 'authorization_code', result.revoked);
    if (result.status === 'revoked') throw new InactiveToken('revoked');
    if (result.status === 'unknown') throw new UnknownToken();
    this.#emit('code.redeemed', { userId: code_.userId, clientId, grantId: code_.grantId, tokenId: code_.id });
    return this.#tokenSet(tctx, access, refresh, idToken, scope);
  }

  /**
   * Exchanges a refresh token (RFC 6749 §6). With rotation (default) the presented token is used
   * up and a successor minted; presenting it again revokes per `reusePolicy.refresh`, except
   * within the grace window, where it fails with {@link TokenReused} (`revoked: 'nothing'`).
   * The scope may be narrowed, never widened beyond the token's.
   */
  async refresh(refreshToken: string, options: RefreshOptions): Promise<TokenSet> {
    const value = requireTokenValue(refreshToken);
    const o = requirePlainObject(options, 'refresh options') as unknown as RefreshOptions;
    const clientId = requireId(o.clientId, 'clientId');
    const issue = issueOptions(o.issue);
    const found = await this.#lookup(value);
    const cls = found?.token?.class ?? found?.marker?.class;
    if (!found || cls !== 'refresh_token') throw new UnknownToken();
    if (found.grant.clientId !== clientId) throw new WrongClient();
    if (found.marker) return this.#reused(value, found, this.#o.refreshReuse, this.#o.graceMs);
    const tctx = found as TokenContext;
    const now = this.#now();
    const reason = tokenInactiveReason(tctx, now);
    if (reason) throw new InactiveToken(reason);
    const old = tctx.token;
    const scope = o.scope === undefined ? old.scope : requireScopes(o.scope);
    if (!scope.every((s) => old.scope.includes(s))) throw new MintingNotAllowed('requested scope exceeds the refresh token scope');
    const familyId = old.familyId ?? old.id;
    let successor: MintedToken | undefined;
    if (this.#o.rotate) {
      // The successor takes the old token's place under its parent, so the lineage stays flat
      // however many rotations happen (B-04) and the old record can be retired (fault 18).
      const chainStartedAt = old.chainStartedAt ?? old.issuedAt;
      successor = await this.#buildToken(tctx, 'refresh_token', old, { scope: old.scope }, now, {
        basedOn: old.basedOn,
        familyId,
        chainStartedAt,
        notAfter: chainStartedAt + this.#o.chainLifetimeMs,
      });
    }
    const parent = successor?.token ?? old;
    const accessWithFamily = await this.#buildToken(tctx, 'access_token', parent, { scope }, now, { basedOn: parent.id, familyId });
    const idToken = await this.#maybeIdToken(tctx, old, issue, scope, now);
    const mint = [accessWithFamily];
    if (successor) mint.push(successor);
    if (idToken) mint.push(idToken);
    this.#checkMinting(old, mint);
    const result = await this.#store.consume(this.#route(old.userId), hashTokenValue(value), {
      tokenId: old.id,
      now,
      mint: mint.map((m) => m.token),
      onReuse: this.#o.refreshReuse,
      graceMs: this.#o.graceMs,
    });
    if (result.status === 'reused') return this.#reusedResult(tctx, old.id, 'refresh_token', result.revoked);
    if (result.status === 'revoked') throw new InactiveToken('revoked');
    if (result.status === 'unknown') throw new UnknownToken();
    this.#emit('refresh.rotated', { userId: old.userId, clientId, grantId: old.grantId, tokenId: old.id });
    return this.#tokenSet(tctx, accessWithFamily, successor, idToken, scope);
  }

  /** The session info of an active token (of `tokenClass`, issued to `clientId` when given), else a typed error. */
  validateToken(tokenValue: string, options: { tokenClass?: TokenClass; clientId?: string } = {}): Promise<ValidatedToken> {
    // Not an async function: on a store that answers at once (findTokenNow) the whole check is
    // synchronous, and an async function's frame and await were a fifth of what a validation
    // allocated. Every outcome, errors included, still comes as a promise.
    try {
      const value = requireTokenValue(tokenValue);
      // Two fields read in place (own properties only, each once), not a copy of the object:
      // the copy was a tenth of a validation. (`options` defaults to {}: never undefined here.)
      const o = requireObject(options, 'validate options');
      const requested = ownProperty(o, 'tokenClass');
      const tokenClass = requested === undefined ? undefined : requireId(requested, 'tokenClass', 64);
      const clientId = optionalId(ownProperty(o, 'clientId'), 'clientId');
      const found = this.#lookup(value);
      if (found instanceof Promise) return found.then((f) => this.#activeToken(f, tokenClass, clientId));
      return Promise.resolve(this.#activeToken(found, tokenClass, clientId));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The checks of validateToken on a resolved lookup: the result, or a typed error thrown. */
  #activeToken(found: TokenLookup | undefined, tokenClass: string | undefined, clientId: string | undefined): ValidatedToken {
    if (!found) throw new UnknownToken();
    if (!found.token) throw new InactiveToken('used');
    const t = found.token;
    if (tokenClass !== undefined && t.class !== tokenClass) throw new InactiveToken('wrong_class');
    if (clientId !== undefined && t.clientId !== clientId) throw new WrongClient();
    const reason = tokenInactiveReason(found as TokenContext, this.#now());
    if (reason) throw new InactiveToken(reason);
    return this.#validated(found as TokenContext);
  }

  /**
   * An RFC 7662 introspection response: `{active: false}` for anything not active, unknown,
   * malformed, (when `clientId` is given) issued to another client, or (when `tokenClasses` is
   * given) of another class — an authorization server introspects access and refresh tokens,
   * not codes or ID tokens. Only a store outage throws.
   */
  async introspect(tokenValue: string, options: { clientId?: string; tokenClasses?: readonly TokenClass[] } = {}): Promise<IntrospectionResponse> {
    // The caller's own options must be right; only the token value is untrusted input here.
    const o = optionsOf<{ clientId?: string; tokenClasses?: readonly TokenClass[] }>(options, 'introspect options');
    const clientId = optionalId(o.clientId, 'clientId');
    if (o.tokenClasses !== undefined && !isArray(o.tokenClasses, 'tokenClasses')) throw new InvalidInput('tokenClasses must be an array of token classes');
    const classes = o.tokenClasses === undefined ? undefined : requireScopes(o.tokenClasses, 'tokenClasses');
    let v: ValidatedToken;
    try {
      v = await this.validateToken(tokenValue, clientId === undefined ? {} : { clientId });
    } catch (e) {
      if (e instanceof OidcSessionsError && !(e instanceof StoreUnavailable)) return { active: false };
      throw e;
    }
    const t = v.token;
    if (classes !== undefined && !classes.includes(t.class)) return { active: false };
    const sid = t.browserSessionId === undefined ? undefined : this.sidFor(t.browserSessionId, t.clientId);
    // Optional members by assignment, in this order (see #tokenSet for why not spreads).
    const response = {
      active: true,
      scope: t.scope.join(' '),
      client_id: t.clientId,
      sub: v.sub,
      exp: Math.floor(t.expiresAt / 1000),
      iat: Math.floor(t.issuedAt / 1000),
      nbf: Math.floor(t.notBefore / 1000),
    } as Mutable<Extract<IntrospectionResponse, { active: true }>>;
    if (t.class === 'access_token') response.token_type = 'Bearer';
    if (v.grant.resources.length > 0) response.aud = v.grant.resources;
    if (this.#o.jwt) response.iss = this.#o.jwt.issuer;
    response.jti = t.id;
    if (sid !== undefined) response.sid = sid;
    return response;
  }

  /**
   * Logs a user out everywhere: every browser session ends and every token that is not
   * offline dies. With `keepOffline: false` (default) every client session is revoked too,
   * so nothing at all survives. Returns whom to notify.
   */
  async logoutUser(userId: string, options: { keepOffline?: boolean } = {}): Promise<LogoutNotice[]> {
    requireId(userId, 'userId');
    const keepOffline = optionalBoolean(optionsOf<{ keepOffline?: boolean }>(options, 'logout options').keepOffline, 'keepOffline') ?? false;
    const result = await this.#store.logoutUser(this.#route(userId), userId, { keepOffline, now: this.#now() });
    if (!result) throw new UnknownSession();
    const notices = this.logoutNotices(result.grants, result.browserSessionIds);
    this.#emit('user.logout', { userId, keepOffline, notices: notices.length });
    return notices;
  }

  /** Removes a user, client session or grant with everything below it. */
  async removeSession(sessionId: string): Promise<void> {
    const p = this.#openSessionId(sessionId);
    if (!(await this.#store.remove({ route: this.#route(p.userId), ...p }))) throw new UnknownSession();
    this.#emit('session.removed', p);
  }

  /**
   * The user's clients, live grants and browser sessions, for an account page. Revoked or
   * expired grants are not sessions any more and are left out (field fault 9) unless
   * `includeInactive` asks for them, each then marked with why it is inactive.
   */
  async listUserSessions(userId: string, options: { includeInactive?: boolean } = {}): Promise<UserSessions> {
    requireId(userId, 'userId');
    const includeInactive = optionsOf<{ includeInactive?: boolean }>(options, 'list options').includeInactive ?? false;
    if (typeof includeInactive !== 'boolean') throw new InvalidInput('includeInactive must be a boolean');
    const route = this.#route(userId);
    const [view, grants] = await Promise.all([this.#store.getUser(route, userId), this.#store.listGrants(route, userId)]);
    const now = this.#now();
    const clients = new Map<string, { clientId: string; revoked: boolean; grants: UserSessions['clients'][number]['grants'][number][] }>();
    for (const ctx of grants) {
      const reason = grantInactiveReason(ctx, now);
      if (reason && !includeInactive) continue;
      let c = clients.get(ctx.client.clientId);
      if (!c) clients.set(ctx.client.clientId, (c = { clientId: ctx.client.clientId, revoked: ctx.client.revoked, grants: [] }));
      c.grants.push({ sessionId: this.#sealGrant(ctx.grant), grant: ctx.grant, active: !reason, ...(reason && { inactiveReason: reason }) });
    }
    const browserSessions = view ? Object.values(view.user.browserSessions).filter((b) => browserSessionLive(view.user, b.id, now)) : [];
    return { userId, browserSessions, clients: [...clients.values()] };
  }

  /** Removes expired records, visiting at most `limit` per call. Returns how many were removed. */
  async purgeExpired(options: { limit?: number } = {}): Promise<number> {
    const limit = optionsOf<{ limit?: number }>(options, 'purge options').limit ?? 10_000;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new InvalidInput('limit must be a positive integer');
    return this.#store.purgeExpired(this.#now(), limit);
  }

  /** Plain-JSON export of the whole tree: ids, lineage, counters and timestamps; no secrets, no token values. */
  async dump(): Promise<TreeDump> {
    return structuredClone(await this.#store.dump());
  }

  /** Imports a dump. Every record is checked field by field; nothing in the data names code to run (B-53). */
  async load(data: unknown): Promise<void> {
    const dump = validateDump(data, MAX_DUMP_RECORDS);
    await this.#store.load(dump, (userId) => this.#route(userId));
  }

  // ---------------------------------------------------------------- browser sessions (for the middleware)

  /** Records a browser session logged in as `userId`; returns its id. */
  async startBrowserSession(userId: string, options: { validFor: number; id?: string }): Promise<string> {
    requireId(userId, 'userId');
    const o = requirePlainObject(options, 'browser session options') as { validFor?: unknown; id?: unknown };
    const validFor = requirePositive(o.validFor, 'validFor');
    const id = o.id === undefined ? randomId() : requireId(o.id, 'browser session id', 256);
    const now = this.#now();
    await this.#store.addBrowserSession(this.#route(userId), userId, { id, createdAt: now, expiresAt: now + validFor * 1000, epoch: 0 });
    return id;
  }

  /** True when the browser session still exists, is unexpired and the user was not logged out everywhere since. One read. */
  async isBrowserSessionLive(userId: string, browserSessionId: string): Promise<boolean> {
    requireId(userId, 'userId');
    requireId(browserSessionId, 'browser session id', 256);
    const view = await this.#store.getUser(this.#route(userId), userId);
    return view !== undefined && browserSessionLive(view.user, browserSessionId, this.#now());
  }

  /** Ends one browser session: tokens bound to it become inactive. */
  async endBrowserSession(userId: string, browserSessionId: string): Promise<boolean> {
    requireId(userId, 'userId');
    requireId(browserSessionId, 'browser session id', 256);
    return this.#store.removeBrowserSession(this.#route(userId), userId, browserSessionId);
  }

  /** The `sid` claim for (browser session, client): stable, unlinkable across clients, not reversible. */
  sidFor(browserSessionId: string, clientId: string): string {
    requireId(browserSessionId, 'browser session id', 256);
    requireId(clientId, 'clientId');
    return createHmac('sha256', this.#o.sidKey).update(encodeParts([browserSessionId, clientId])).digest('base64url');
  }

  /**
   * The `sub` that grants of `userId` get with this subject type (and sector, for `pairwise`): the
   * value of their ID tokens' `sub`. Lets a provider check that a presented ID token, such as a
   * logout `id_token_hint`, names the signed-in user. Ephemeral subjects are fresh per grant and
   * cannot be recomputed ({@link InvalidInput}).
   */
  subjectFor(userId: string, options: { subType?: 'public' | 'pairwise'; sectorIdentifier?: string } = {}): string {
    requireId(userId, 'userId');
    const o = requirePlainObject(options, 'subject options') as { subType?: unknown; sectorIdentifier?: unknown };
    const subType = o.subType ?? 'public';
    if (subType !== 'public' && subType !== 'pairwise') throw new InvalidInput('subType must be public or pairwise (ephemeral subjects cannot be recomputed)');
    return this.#sub(subType, userId, optionalId(o.sectorIdentifier, 'sectorIdentifier'));
  }

  /** Logout notices for grants and the browser sessions that ended with them. */
  logoutNotices(grants: readonly GrantContext[], browserSessionIds: readonly string[]): LogoutNotice[] {
    // Array.from: holes of a sparse array become undefined and are refused, never destructured.
    if (!isArray(grants, 'grants') || !Array.from(grants).every((g) => g !== null && typeof g === 'object' && g.grant !== null && typeof g.grant === 'object')) {
      throw new InvalidInput('grants must be an array of grant contexts');
    }
    if (!isArray(browserSessionIds, 'browserSessionIds')) throw new InvalidInput('browserSessionIds must be an array');
    for (const bs of browserSessionIds) requireId(bs, 'browser session id', 256);
    const notices = new Map<string, LogoutNotice>();
    const now = this.#now();
    for (const { grant } of grants) {
      if (grant.revoked || grant.expiresAt <= now) continue;
      const sessions = browserSessionIds.length > 0 ? browserSessionIds : [undefined];
      for (const bs of sessions) {
        const sid = bs === undefined ? undefined : this.sidFor(bs, grant.clientId);
        const key = `${grant.clientId}\u0000${sid ?? ''}\u0000${grant.sub}`;
        notices.set(key, { clientId: grant.clientId, sub: grant.sub, ...(sid !== undefined && { sid }) });
      }
    }
    return [...notices.values()];
  }

  /** Seals a session id for a path (user, client session or grant). */
  sessionIdOf(path: SessionPath): string {
    const p = requirePlainObject(path, 'path') as Partial<SessionPath>;
    const userId = requireId(p.userId, 'userId');
    const clientId = optionalId(p.clientId, 'clientId');
    const grantId = optionalId(p.grantId, 'grantId');
    // A grant id without a client id would seal a 2-part path, i.e. name a client session called like the grant.
    if (grantId !== undefined && clientId === undefined) throw new InvalidInput('a grant path needs a clientId');
    return this.#ids.seal({ userId, ...(clientId !== undefined && { clientId }), ...(grantId !== undefined && { grantId }) });
  }

  /** Opens a session id (throws {@link InvalidSessionId}). */
  openSessionId(sessionId: string): SessionPath {
    return this.#openSessionId(sessionId);
  }

  // ---------------------------------------------------------------- internals

  #route(userId: string): string {
    return this.#user(userId).route;
  }

  /**
   * The route of a user and the first copy of its id seen recently. Every grant and token
   * stores its user id, and callers usually pass a fresh string per request: records made
   * from the shared copy point to one string per user instead of one per grant.
   */
  #user(userId: string): UserKey {
    let key = this.#users.peek(userId);
    if (key === undefined) this.#users.set(userId, (key = { route: routeOf(this.#o.routeKey, userId), userId }));
    return key;
  }


  /** `sub` of a new grant; ephemeral subjects are fresh each time, so never remembered. */
  #sub(subType: SubjectType, userId: string, sector: string | undefined): string {
    if (subType === 'ephemeral') return computeSub(this.#o.subjectSalt, subType, userId, sector);
    // Public subs are keyed by the user id alone; pairwise ones by JSON of (sector, user), an
    // injective key, so no pair can take another's sub. Two memos: the keys can't collide.
    const memo = subType === 'public' ? this.#publicSubs : this.#pairwiseSubs;
    const key = subType === 'public' ? userId : JSON.stringify([sector ?? null, userId]);
    let sub = memo.peek(key);
    if (sub === undefined) memo.set(key, (sub = computeSub(this.#o.subjectSalt, subType, userId, sector)));
    return sub;
  }


  #openSessionId(sessionId: string): SessionPath {
    return this.#ids.open(sessionId);
  }

  #grantPath(sessionId: string): GrantPath {
    const p = this.#openSessionId(sessionId);
    if (p.clientId === undefined || p.grantId === undefined) throw new InvalidSessionId('session id does not name a grant');
    return { route: this.#route(p.userId), userId: p.userId, clientId: p.clientId, grantId: p.grantId };
  }

  async #grantContext(path: GrantPath): Promise<GrantContext> {
    const ctx = await this.#store.getGrant(path);
    if (!ctx) throw new UnknownSession();
    return ctx;
  }

  /**
   * Resolves a value; a value whose route does not match its owner resolves to nothing.
   * `opaqueHash`: hashTokenValue(value) when the caller has it already.
   *
   * Answers without a promise when it can (an opaque value and a store with `findTokenNow`),
   * so that validateToken need not await it.
   */
  #lookup(value: string, opaqueHash?: string): Lookup {
    if (this.#jwt && looksLikeJwt(value)) return this.#lookupJwt(value);
    if (value.length <= ROUTE_LENGTH) return undefined;
    const hash = opaqueHash ?? hashTokenValue(value);
    // The route is unmasked even for a store with one index over every user (findTokenNow):
    // the owner check below is what refuses a value minted under other secrets, whatever store
    // or dump it reached this one through.
    const route = routeOfValue(value, this.#o.routeMaskKey);
    const store = this.#store;
    const findNow = store.findTokenNow; // read once: one store call, as a wrapper counts them
    // A wrapper around the store (metrics, fault injection) may make even findTokenNow async.
    const found = findNow === undefined ? store.findToken(route, hash) : findNow.call(store, hash);
    if (found instanceof Promise) return found.then((f) => this.#owned(f, route));
    return this.#owned(found, route);
  }

  async #lookupJwt(value: string): Promise<TokenLookup | undefined> {
    const reference = await this.#jwt!.reference(value);
    if (reference === undefined || reference.length <= ROUTE_LENGTH) return undefined;
    const route = routeOfValue(reference, this.#o.routeMaskKey);
    return this.#owned(await this.#store.findToken(route, jwtReferenceHash(reference)), route);
  }

  /** `found`, unless the route in the value is not its owner's. */
  #owned(found: TokenLookup | undefined, route: string): TokenLookup | undefined {
    return found && this.#route(found.grant.userId) === route ? found : undefined;
  }

  #sealGrant(g: GrantRecord): string {
    return this.#ids.seal({ userId: g.userId, clientId: g.clientId, grantId: g.id });
  }

  #info(ctx: GrantContext, include: SessionInfoInclude, knownSessionId?: string): SessionInfo {
    return new SessionInfoResult(this.#sealer, ctx, (include ?? {}) as SessionInfoInclude, knownSessionId);
  }

  #validated(ctx: TokenContext): ValidatedToken {
    return new ValidatedTokenResult(this.#sealer, ctx);
  }


  #authnEvent(input: AuthnEventInput, userId: string, now: number): AuthnEvent {
    const e = requirePlainObject(input, 'authnEvent') as AuthnEventInput;
    if (e.userId !== undefined && e.userId !== userId) throw new InvalidInput('authnEvent.userId does not match userId');
    const authnTime = e.authnTime === undefined ? now : requireFiniteNumber(e.authnTime, 'authnEvent.authnTime');
    const validUntil =
      e.validUntil !== undefined
        ? requireFiniteNumber(e.validUntil, 'authnEvent.validUntil')
        : authnTime + (e.validFor === undefined ? 3600 : requirePositive(e.validFor, 'authnEvent.validFor')) * 1000;
    const authnInfo = e.authnInfo === undefined ? undefined : requireId(e.authnInfo, 'authnEvent.authnInfo', 256);
    const amr = e.amr === undefined ? undefined : requireScopes(e.amr, 'authnEvent.amr');
    // One login backs every grant its browser consents to: grants of the same event share one
    // frozen record (amr lists are shared, so comparing them by identity is enough).
    const last = this.#authnEvents.peek(userId);
    if (
      last !== undefined &&
      last.authnInfo === authnInfo &&
      last.amr === amr &&
      Object.is(last.authnTime, authnTime) &&
      Object.is(last.validUntil, validUntil)
    ) {
      return last;
    }
    const event = authnEventRecord({ userId, authnInfo, amr, authnTime, validUntil });
    this.#authnEvents.set(userId, event);
    return event;
  }

  /**
   * A new token of `cls` under `ctx`, not yet stored. An opaque token is made at once; a JWT
   * comes through a promise, as signing is async (callers await either).
   */
  #buildToken(
    ctx: GrantContext,
    cls: string,
    parent: TokenRecord | undefined,
    o: MintOptions,
    now = this.#now(),
    place?: FamilyPlace,
  ): MintedToken | Promise<MintedToken> {
    const grant = ctx.grant;
    const base = Object.hasOwn(grant.usageRules, cls) ? grant.usageRules[cls] : undefined;
    const rules = normalizeRules(o.usageRules, base, 'usageRules');
    const ceiling = parent?.scope ?? grant.scope;
    const scope = o.scope === undefined ? ceiling : requireScopes(o.scope);
    if (!scope.every((s) => ceiling.includes(s))) throw new MintingNotAllowed('requested scope exceeds the parent scope');
    let expiresAt = Math.min(rules.expiresIn === undefined ? grant.expiresAt : now + rules.expiresIn * 1000, grant.expiresAt);
    if (place?.notAfter !== undefined) expiresAt = Math.min(expiresAt, place.notAfter);
    const browserSessionId =
      o.browserSessionId !== undefined ? requireId(o.browserSessionId, 'browserSessionId', 256) : parent?.browserSessionId;
    const id = randomId();
    const reference = newTokenValue(this.#route(grant.userId), this.#o.routeMaskKey);
    const jwt = cls === 'id_token' || rules.format === 'jwt';
    let codeBinding: CodeBinding | undefined;
    if (o.codeBinding !== undefined) {
      const b = requirePlainObject(o.codeBinding, 'codeBinding') as CodeBinding;
      if (b.codeChallenge !== undefined && !isValidCodeChallenge(b.codeChallenge)) throw new InvalidInput('codeBinding.codeChallenge is malformed');
      if (b.codeChallengeMethod !== undefined && b.codeChallengeMethod !== 'S256' && b.codeChallengeMethod !== 'plain') {
        throw new InvalidInput('codeBinding.codeChallengeMethod must be S256 or plain');
      }
      const cb = {} as Mutable<CodeBinding>;
      if (b.redirectUri !== undefined) cb.redirectUri = requireId(b.redirectUri, 'codeBinding.redirectUri', 2048);
      if (b.codeChallenge !== undefined) {
        // RFC 7636 §4.3 makes an absent method `plain`; guessing either way could weaken or
        // break the binding, so the caller must say which.
        if (b.codeChallengeMethod === undefined) throw new InvalidInput('codeBinding: code_challenge_method required with a code challenge');
        cb.codeChallenge = b.codeChallenge;
        cb.codeChallengeMethod = b.codeChallengeMethod;
      }
      if (b.nonce !== undefined) cb.nonce = requireId(b.nonce, 'codeBinding.nonce', 1024);
      codeBinding = cb;
    }
    // A new refresh token starts a rotation family unless it continues its parent's.
    let familyId = place?.familyId;
    let chainStartedAt = place?.chainStartedAt;
    if (place === undefined && cls === 'refresh_token') {
      familyId = parent?.familyId ?? id;
      if (parent?.familyId === undefined) chainStartedAt = now;
    }
    const offlineScope = scope.includes('offline_access');
    const token = tokenRecord({
      id,
      grantId: grant.id,
      userId: grant.userId,
      clientId: grant.clientId,
      class: cls,
      hash: jwt ? jwtReferenceHash(reference) : hashTokenValue(reference),
      basedOn: place ? place.basedOn : parent?.id,
      scope,
      claims: o.claims === undefined ? undefined : cloneJsonObject(o.claims, 'claims'),
      resources: o.resources === undefined ? undefined : requireScopes(o.resources, 'resources'),
      usageRules: rules,
      used: 0,
      issuedAt: now,
      notBefore: now,
      expiresAt,
      revoked: false,
      epoch: ctx.user.epoch,
      // Offline (OIDC Core §11) is what a refresh token and its products are. A code, and anything
      // else minted straight from the grant at the front channel, is a product of the browser's
      // login and dies with it; only a refresh token may be offline without a parent.
      offline: cls !== 'authorization_code' && (parent ? parent.offline || offlineScope : cls === 'refresh_token' && offlineScope),
      browserSessionId,
      usedAt: undefined,
      familyId,
      chainStartedAt,
      codeBinding,
    });
    if (!jwt) return { value: reference, token };
    const claims = cls === 'id_token'
      ? this.#idTokenClaims(ctx, parent, o.idTokenClaims, browserSessionId)
      : this.#accessTokenClaims(ctx, scope, o.resources, browserSessionId);
    return this.#signJwt(claims, cls === 'id_token' ? 'JWT' : 'at+jwt', reference, now, expiresAt).then((value) => ({ value, token }));
  }

  async #signJwt(claims: Record<string, unknown>, typ: 'JWT' | 'at+jwt', reference: string, now: number, expiresAt: number): Promise<string> {
    if (!this.#jwt) throw new MintingNotAllowed('JWT-format tokens need the `jwt` option');
    return this.#jwt.sign({ ...claims, iat: Math.floor(now / 1000), exp: Math.floor(expiresAt / 1000), jti: reference }, typ);
  }

  /** OIDC Core §2 ID token claims (iss, iat, exp and jti are added when signing). */
  #idTokenClaims(
    ctx: GrantContext,
    parent: TokenRecord | undefined,
    extra: Readonly<Record<string, unknown>> | undefined,
    browserSessionId: string | undefined,
  ): Record<string, unknown> {
    const g = ctx.grant;
    const nonce = parent?.class === 'authorization_code' ? parent.codeBinding?.nonce : undefined;
    return {
      ...(extra ? (cloneJson(extra, 'idTokenClaims') as Record<string, unknown>) : {}),
      sub: g.sub,
      aud: g.clientId,
      auth_time: Math.floor(g.authnEvent.authnTime / 1000),
      ...(nonce !== undefined && { nonce }),
      ...(g.authnEvent.authnInfo !== undefined && { acr: g.authnEvent.authnInfo }),
      ...(g.authnEvent.amr !== undefined && { amr: g.authnEvent.amr }),
      ...(browserSessionId !== undefined && { sid: this.sidFor(browserSessionId, g.clientId) }),
    };
  }

  /** RFC 9068 §2.2 access token claims (iss, iat, exp and jti are added when signing). */
  #accessTokenClaims(
    ctx: GrantContext,
    scope: readonly string[],
    resources: readonly string[] | undefined,
    browserSessionId: string | undefined,
  ): Record<string, unknown> {
    const g = ctx.grant;
    const aud = resources ?? (g.resources.length > 0 ? g.resources : [g.clientId]);
    return {
      sub: g.sub,
      aud: aud.length === 1 ? aud[0] : aud,
      client_id: g.clientId,
      scope: scope.join(' '),
      auth_time: Math.floor(g.authnEvent.authnTime / 1000),
      ...(g.authnEvent.authnInfo !== undefined && { acr: g.authnEvent.authnInfo }),
      ...(browserSessionId !== undefined && { sid: this.sidFor(browserSessionId, g.clientId) }),
    };
  }

  #maybeIdToken(ctx: GrantContext, parent: TokenRecord, issue: IssueOptions, scope: readonly string[], now: number): MintedToken | Promise<MintedToken> | undefined {
    const wanted = issue.idToken ?? (scope.includes('openid') && this.#o.jwt !== undefined);
    if (!wanted) return undefined;
    return this.#buildToken(ctx, 'id_token', parent, { ...(issue.idTokenClaims && { idTokenClaims: issue.idTokenClaims }) }, now);
  }

  #checkMinting(parent: TokenRecord, minted: readonly MintedToken[]): void {
    for (const m of minted) {
      if (!parent.usageRules.supportsMinting.includes(m.token.class)) {
        throw new MintingNotAllowed(`a ${parent.class} may not mint ${m.token.class}`);
      }
    }
  }

  async #reused(value: string, found: TokenLookup, policy: 'grant' | 'descendants' | 'none', graceMs: number): Promise<never> {
    const marker = found.marker!;
    const result = await this.#store.consume(this.#route(marker.userId), hashTokenValue(value), {
      tokenId: marker.tokenId,
      now: this.#now(),
      mint: [],
      onReuse: policy,
      graceMs,
    });
    const revoked = result.status === 'reused' ? result.revoked : 'nothing';
    return this.#reusedResult(found, marker.tokenId, marker.class, revoked);
  }

  #reusedResult(ctx: GrantContext, tokenId: string, cls: string, revoked: 'grant' | 'descendants' | 'nothing'): never {
    const g = ctx.grant;
    this.#emit('token.reused', { userId: g.userId, clientId: g.clientId, grantId: g.id, tokenId, class: cls, revoked });
    if (revoked === 'grant') this.#emit('grant.revoked', { userId: g.userId, clientId: g.clientId, grantId: g.id, reason: 'token_reused' });
    throw new TokenReused(revoked);
  }

  #tokenSet(ctx: GrantContext, access: MintedToken, refresh: MintedToken | undefined, idToken: MintedToken | undefined, scope: readonly string[]): TokenSet {
    // Optional fields by assignment, not `...(x && {...})`: spreads of objects or undefined take
    // V8's slow path (0.2 us here, on every redemption and refresh).
    const set = { accessToken: access } as Mutable<TokenSet>;
    if (refresh) set.refreshToken = refresh;
    if (idToken) set.idToken = idToken;
    set.expiresIn = Math.max(0, Math.round((access.token.expiresAt - access.token.issuedAt) / 1000));
    set.scope = scope;
    set.session = this.#info(ctx, {});
    return set;
  }

  /** Listener failures must never break (or roll back) a store operation that already happened. */
  #emit<K extends keyof SessionEvents>(name: K, ...args: SessionEvents[K]): void {
    if (this.listenerCount(name) === 0) return;
    try {
      (this.emit as (n: K, ...a: SessionEvents[K]) => boolean)(name, ...args);
    } catch {
      // A throwing audit listener is the listener's bug; the tree is already consistent.
    }
  }
}

/** No options: on a null prototype, like every options object (see requirePlainObject). */
const NO_OPTIONS: Readonly<Record<string, unknown>> = Object.freeze(Object.create(null) as Record<string, unknown>);

/** An options argument: undefined means none; anything but a plain object is {@link InvalidInput}. */
function optionsOf<T>(v: unknown, name: string): Partial<T> {
  return (v === undefined ? NO_OPTIONS : requirePlainObject(v, name)) as Partial<T>;
}

function optionalBoolean(v: unknown, name: string): boolean | undefined {
  if (v !== undefined && typeof v !== 'boolean') throw new InvalidInput(`${name} must be a boolean`);
  return v;
}

function issueOptions(v: unknown): IssueOptions {
  const o = optionsOf<IssueOptions>(v, 'issue');
  optionalBoolean(o.refreshToken, 'issue.refreshToken');
  optionalBoolean(o.idToken, 'issue.idToken');
  if (o.idTokenClaims !== undefined) requirePlainObject(o.idTokenClaims, 'issue.idTokenClaims');
  return o;
}


/** A record type with its fields writable, for building a record field by field. */
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What {@link SessionManager#lookup} gives: the lookup itself when the store answered at once. */
type Lookup = TokenLookup | undefined | Promise<TokenLookup | undefined>;

/**
 * The route key (derived from the subject salt) each store object of this process serves. A
 * store holds one tree: managers with other secrets on one store would share user nodes (one's
 * logout would end the other's sessions); their tokens stay apart only by the route check of
 * #lookup. One issuer (or tenant), one store; more managers with the same secrets may share it
 * (session id keys may differ: they rotate).
 */
const storeRouteKeys = new WeakMap<SessionStore, Uint8Array>();

function claimStore(store: SessionStore, routeKey: Uint8Array): void {
  const known = storeRouteKeys.get(store);
  if (known === undefined) storeRouteKeys.set(store, routeKey);
  else if (!timingSafeEqual(known, routeKey)) {
    throw new InvalidInput('this store already serves a SessionManager with another subjectSalt: give each issuer its own store (or Redis key prefix)');
  }
}

/** A user's route, with the copy of its id that records share. */
interface UserKey {
  readonly route: string;
  readonly userId: string;
}

/**
 * Where a token goes in a rotation family, when the caller sets it (refresh): its parent, the
 * family, the chain's first issuance and the chain's absolute end.
 */
interface FamilyPlace {
  readonly basedOn: string | undefined;
  readonly familyId: string;
  readonly chainStartedAt?: number;
  readonly notAfter?: number;
}

/** A lifetime in seconds: positive, and bounded like a token's so that every expiry stays a safe time. */
function requirePositive(v: unknown, name: string): number {
  const n = requireFiniteNumber(v, name);
  if (n <= 0) throw new InvalidInput(`${name} must be positive`);
  if (n > MAX_LIFETIME_SECONDS) throw new InvalidInput(`${name} must be at most ${MAX_LIFETIME_SECONDS} seconds`);
  return n;
}

function responseTypeKey(rt: string): string {
  return rt.split(' ').filter(Boolean).sort().join(' ');
}

function samePath(g: GrantRecord, p: GrantPath): boolean {
  return g.userId === p.userId && g.clientId === p.clientId && g.id === p.grantId;
}
