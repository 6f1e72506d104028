/**
 * `req.oidcSessions`: the per-request helper (SPEC §7). One instance per request; it holds no
 * state of its own beyond a reference to the validated oidc part of `req.session`.
 */
import type { Request } from 'express';
import type { Session } from 'express-session';
import { InvalidInput, UnknownSession } from '../errors.js';
import type { SessionManager } from '../manager/session-manager.js';
import type { LogoutNotice, MintedToken, UserSessions } from '../manager/results.js';
import { browserSessionLive } from '../tree/activity.js';
import type { AuthnEvent, GrantRecord } from '../tree/records.js';
import { requireFiniteNumber, requireId, requirePlainObject, requireScopes } from '../tree/validate.js';
import { LoginRequired } from './errors.js';
import { installMergingSave, markFresh, type SaveLocks } from './merging-save.js';
import { capCookieLifetime, regenerate, save } from './session-io.js';
import { addClient, authnEventOf, STATE_VERSION, type OidcState } from './state.js';
import type { AuthorizeOptions, AuthorizeResult, CodeOptions, LoginOptions, LogoutOptions, OidcRequestSessions } from './types.js';

/** Everything one middleware instance shares between its requests. */
export interface MiddlewareContext {
  readonly manager: SessionManager;
  readonly key: string;
  /** Default login lifetime in seconds. */
  readonly loginLifetime: number;
  readonly clock: () => number;
  readonly locks: SaveLocks;
  readonly tokens: Pick<OidcRequestSessions, 'redeemCode' | 'refresh' | 'validateToken' | 'introspect' | 'revokeToken' | 'mintToken'>;
}

/** Longest login accepted (seconds): a bound, like every other input. */
export const MAX_LOGIN_LIFETIME = 400 * 86_400;
const MAX_CARRY = 64;
/** Keys a carry list may never name: express-session's own and prototype-reaching ones. */
const UNCARRIABLE = new Set(['cookie', '__proto__', 'constructor', 'prototype', 'id', 'req']);

type SessionRecord = Session & Record<string, unknown>;

export class RequestSessions implements OidcRequestSessions {
  readonly #ctx: MiddlewareContext;
  readonly #req: Request;
  #state: OidcState | undefined;

  constructor(ctx: MiddlewareContext, req: Request, state?: OidcState) {
    this.#ctx = ctx;
    this.#req = req;
    this.#state = state;
  }

  /** The login, as long as `req.session` still carries it (an app's own regenerate/destroy ends it). */
  get #login(): OidcState | undefined {
    const s = this.#state;
    if (s === undefined) return undefined;
    const session = this.#req.session as SessionRecord | undefined;
    return session !== undefined && session[this.#ctx.key] === s ? s : undefined;
  }

  get userId(): string | undefined {
    return this.#login?.userId;
  }

  get authnEvent(): AuthnEvent | undefined {
    return this.#login?.authnEvent;
  }

  get browserSessionId(): string | undefined {
    return this.#login?.browserSessionId;
  }

  get manager(): SessionManager {
    return this.#ctx.manager;
  }

  get clients(): readonly string[] {
    const s = this.#login;
    return s === undefined ? Object.freeze([]) : Object.freeze([...s.clients]);
  }

  get redeemCode(): SessionManager['redeemCode'] {
    return this.#ctx.tokens.redeemCode;
  }
  get refresh(): SessionManager['refresh'] {
    return this.#ctx.tokens.refresh;
  }
  get validateToken(): SessionManager['validateToken'] {
    return this.#ctx.tokens.validateToken;
  }
  get introspect(): SessionManager['introspect'] {
    return this.#ctx.tokens.introspect;
  }
  get revokeToken(): SessionManager['revokeToken'] {
    return this.#ctx.tokens.revokeToken;
  }
  get mintToken(): SessionManager['mintToken'] {
    return this.#ctx.tokens.mintToken;
  }

  sidFor(clientId: string): string | undefined {
    const s = this.#login;
    if (s === undefined) return undefined;
    return this.#ctx.manager.sidFor(s.browserSessionId, requireId(clientId, 'clientId'));
  }

  async login(userId: string, options: LoginOptions & { carry?: readonly string[] } = {}): Promise<LogoutNotice[]> {
    const { manager, key, clock, locks } = this.#ctx;
    requireId(userId, 'userId');
    const o = requirePlainObject(options, 'login options') as LoginOptions & { carry?: readonly string[] };
    const validFor = o.validFor === undefined ? this.#ctx.loginLifetime : requireLifetime(o.validFor, 'validFor');
    const authnInfo = o.authnInfo === undefined ? undefined : requireId(o.authnInfo, 'authnInfo', 256);
    const amr = o.amr === undefined ? undefined : requireScopes(o.amr, 'amr');
    const carry = carryList(o.carry, key);
    const session = this.#session();

    const previous = this.#login;
    let notices: LogoutNotice[] = [];
    let keepId: string | undefined;
    if (previous?.userId === userId) {
      // Step-up: the same browser session (its sids and session-bound tokens) with a new event.
      // Re-checked here so that a browser session a concurrent logout just ended is not revived
      // (a narrow window remains between this read and the write below: the store has no
      // "extend only if present" step for browser sessions).
      if (await manager.isBrowserSessionLive(userId, previous.browserSessionId)) keepId = previous.browserSessionId;
    } else if (previous) {
      notices = await this.#endInTree(previous, {}); // account switch: the old user leaves this browser
    }

    // The tree first: if it is unavailable nothing changes in the browser.
    const now = clock();
    const browserSessionId = await manager.startBrowserSession(userId, { validFor, ...(keepId !== undefined && { id: keepId }) });
    const carried = carry.filter((k) => Object.hasOwn(session, k)).map((k) => [k, session[k]] as const);
    try {
      await regenerate(session);
    } catch (e) {
      if (keepId === undefined) await manager.endBrowserSession(userId, browserSessionId).catch(() => undefined);
      this.#state = undefined;
      throw e;
    }
    const fresh = this.#req.session as SessionRecord;
    for (const [k, v] of carried) fresh[k] = v;
    const state: OidcState = {
      v: STATE_VERSION,
      userId,
      browserSessionId,
      authnEvent: authnEventOf({
        userId,
        ...(authnInfo !== undefined && { authnInfo }),
        ...(amr !== undefined && { amr }),
        authnTime: now,
        validUntil: now + validFor * 1000,
      }),
      clients: keepId !== undefined && previous ? [...previous.clients] : [],
    };
    fresh[key] = state;
    capCookieLifetime(fresh.cookie, state.authnEvent.validUntil, now);
    markFresh(fresh);
    installMergingSave(fresh, key, locks);
    this.#state = state;
    try {
      await save(fresh as unknown as Session);
    } catch (e) {
      // Not stored, so not logged in: the browser session in the tree must not outlive this.
      if (keepId === undefined) await manager.endBrowserSession(userId, browserSessionId).catch(() => undefined);
      this.#state = undefined;
      throw e;
    }
    return notices;
  }

  async authorize(options: AuthorizeOptions): Promise<AuthorizeResult> {
    const { manager, clock } = this.#ctx;
    const o = requirePlainObject(options, 'authorize options') as unknown as AuthorizeOptions;
    const clientId = requireId(o.clientId, 'clientId');
    const authRequest = requirePlainObject(o.authRequest, 'authRequest');
    const scopes = requireScopes(o.scopes ?? (authRequest.scope as string | readonly string[] | undefined) ?? []);
    const responseType = typeof authRequest.response_type === 'string' ? authRequest.response_type : undefined;
    const s = this.#requireLogin();

    let grant: GrantRecord | undefined;
    if (o.reuse !== false && o.claims === undefined) {
      const now = clock();
      const resources = o.resources === undefined ? [] : requireScopes(o.resources, 'resources');
      grant = (await manager.grants({ userId: s.userId, clientId })).find(
        (g) =>
          g.browserSessionId === s.browserSessionId &&
          sameAuthnEvent(g.authnEvent, s.authnEvent) && // the same login: auth_time and acr stay true
          !g.revoked &&
          g.expiresAt > now &&
          (o.subType === undefined || g.subType === o.subType) &&
          sameResponseType(g.authRequest.response_type, responseType) &&
          scopes.every((x) => g.scope.includes(x)) &&
          resources.every((r) => g.resources.includes(r)),
      );
    }
    const reused = grant !== undefined;
    let sessionId: string;
    if (grant !== undefined) {
      sessionId = manager.sessionIdOf({ userId: s.userId, clientId, grantId: grant.id });
      await this.#requireLiveInTree(s);
    } else {
      const e = s.authnEvent;
      sessionId = await manager.createSession({
        userId: s.userId,
        clientId,
        authRequest,
        authnEvent: { ...(e.authnInfo !== undefined && { authnInfo: e.authnInfo }), ...(e.amr && { amr: e.amr }), authnTime: e.authnTime, validUntil: e.validUntil },
        scopes,
        browserSessionId: s.browserSessionId,
        ...(o.subType !== undefined && { subType: o.subType }),
        ...(o.sectorIdentifier !== undefined && { sectorIdentifier: o.sectorIdentifier }),
        ...(o.claims !== undefined && { claims: o.claims }),
        ...(o.resources !== undefined && { resources: o.resources }),
      });
      // One read gives the grant and, from the same snapshot, whether this browser session still
      // lives: a request that outlived a logout must not leave a usable grant behind.
      const info = await manager.getSessionInfo(sessionId, { grant: true, user: true });
      grant = info.grant!;
      if (!browserSessionLive(info.user!, s.browserSessionId, clock())) {
        await manager.revokeGrant(sessionId).catch(() => undefined);
        throw this.#endedMeanwhile();
      }
    }
    addClient(s, clientId);
    return { sessionId, sid: manager.sidFor(s.browserSessionId, clientId), grant, reused };
  }

  async issueCode(sessionId: string, options: CodeOptions = {}): Promise<MintedToken> {
    const { manager } = this.#ctx;
    const o = requirePlainObject(options, 'code options') as CodeOptions;
    const s = this.#requireLogin();
    const path = manager.openSessionId(sessionId);
    // Another user's grant is indistinguishable from a missing one (no cross-user probing).
    if (path.userId !== s.userId || path.grantId === undefined) throw new UnknownSession();
    const code = await manager.mintToken(sessionId, 'authorization_code', {
      browserSessionId: s.browserSessionId,
      codeBinding: {
        ...(o.redirectUri !== undefined && { redirectUri: o.redirectUri }),
        ...(o.codeChallenge !== undefined && { codeChallenge: o.codeChallenge }),
        ...(o.codeChallengeMethod !== undefined && { codeChallengeMethod: o.codeChallengeMethod }),
        ...(o.nonce !== undefined && { nonce: o.nonce }),
      },
      ...(o.scope !== undefined && { scope: o.scope }),
    });
    if (!(await manager.isBrowserSessionLive(s.userId, s.browserSessionId))) {
      await manager.revokeToken(sessionId, code.value).catch(() => undefined);
      throw this.#endedMeanwhile();
    }
    return code;
  }

  async logout(options: LogoutOptions = {}): Promise<LogoutNotice[]> {
    const o = requirePlainObject(options, 'logout options') as LogoutOptions;
    const s = this.#login;
    // Nothing this request can see (a cross-site POST without the cookie, fault 20): report
    // nothing and leave whatever session the browser really has alone.
    if (s === undefined) return [];
    const notices = await this.#endInTree(s, o);
    this.#state = undefined;
    const session = this.#req.session;
    if (session !== undefined) await regenerate(session);
    return notices;
  }

  async listSessions(): Promise<UserSessions | undefined> {
    const s = this.#login;
    return s === undefined ? undefined : this.#ctx.manager.listUserSessions(s.userId);
  }

  /**
   * Ends a login in the tree and says whom to notify. The browser session ends *before* its
   * grants are listed, so a concurrent `authorize` either finds it ended (and revokes its new
   * grant) or created its grant early enough to be listed here.
   */
  async #endInTree(s: OidcState, o: LogoutOptions): Promise<LogoutNotice[]> {
    const { manager, clock } = this.#ctx;
    const keepOffline = o.keepOffline ?? true;
    if (o.everywhere === true) {
      try {
        return await manager.logoutUser(s.userId, { keepOffline });
      } catch (e) {
        if (e instanceof UnknownSession) return []; // the user node is gone: nothing left to end
        throw e;
      }
    }
    await manager.endBrowserSession(s.userId, s.browserSessionId);
    const now = clock();
    const notices = new Map<string, LogoutNotice>();
    for (const g of await manager.grants({ userId: s.userId })) {
      if (g.browserSessionId !== s.browserSessionId || g.revoked || g.expiresAt <= now) continue;
      if (!keepOffline) await manager.revokeGrant(manager.sessionIdOf({ userId: g.userId, clientId: g.clientId, grantId: g.id }));
      const sid = manager.sidFor(s.browserSessionId, g.clientId);
      notices.set(`${g.clientId}\u0000${g.sub}`, { clientId: g.clientId, sid, sub: g.sub });
    }
    return [...notices.values()];
  }

  #session(): SessionRecord {
    const session = this.#req.session as SessionRecord | undefined;
    if (session === undefined) throw new LoginRequired('this request has no browser session (session store disconnected?)');
    return session;
  }

  #requireLogin(): OidcState {
    const s = this.#login;
    if (s === undefined) throw new LoginRequired();
    return s;
  }

  async #requireLiveInTree(s: OidcState): Promise<void> {
    if (!(await this.#ctx.manager.isBrowserSessionLive(s.userId, s.browserSessionId))) throw this.#endedMeanwhile();
  }

  #endedMeanwhile(): LoginRequired {
    this.#state = undefined;
    return new LoginRequired('the browser session ended while this request was running');
  }
}

function requireLifetime(v: unknown, name: string): number {
  const n = requireFiniteNumber(v, name);
  if (n <= 0 || n > MAX_LOGIN_LIFETIME) throw new InvalidInput(`${name} must be between 0 and ${MAX_LOGIN_LIFETIME} seconds`);
  return n;
}

function carryList(v: unknown, key: string): readonly string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_CARRY) throw new InvalidInput(`carry must be an array of at most ${MAX_CARRY} keys`);
  for (const k of v) {
    requireId(k, 'carry entry', 256);
    if (UNCARRIABLE.has(k as string) || k === key) throw new InvalidInput(`carry may not name ${JSON.stringify(k)}`);
  }
  return v as readonly string[];
}

function sameResponseType(stored: unknown, wanted: string | undefined): boolean {
  const norm = (x: unknown) => (typeof x === 'string' ? x.split(' ').filter(Boolean).sort().join(' ') : '');
  return norm(stored) === norm(wanted);
}

function sameAuthnEvent(a: AuthnEvent, b: AuthnEvent): boolean {
  return (
    a.authnTime === b.authnTime &&
    a.validUntil === b.validUntil &&
    a.authnInfo === b.authnInfo &&
    (a.amr ?? []).join(' ') === (b.amr ?? []).join(' ')
  );
}
