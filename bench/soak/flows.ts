/**
 * The soak's workers: each runs mixed OpenID Connect flows against the provider through
 * openid-client and a cookie-jar browser that fills in the HTML forms (test/examples/helpers),
 * records every value it receives in the {@link Ledger}, and checks what a correct provider must
 * answer. Workers use disjoint users, so their expectations never depend on each other.
 *
 * Flows: login (login form, consent, code exchange with PKCE, userinfo), reauthorize (same
 * browser, no pages), refresh (rotation), parallel refresh of one token (exactly one winner),
 * code reuse (the second exchange fails and kills the grant), revocation of an access or a
 * refresh token (RFC 7009), RP-initiated logout (session-bound tokens die, offline ones live),
 * late reuse of a rotated refresh token (kills the family), and plain checks (introspection,
 * userinfo).
 */
import * as oidc from 'openid-client';
import { Agent, formsOf } from '../../test/examples/helpers/agent.js';
import { authorizationRequest, interact, type Credentials, type InteractionLog } from '../../test/examples/helpers/flows.js';
import type { Ledger } from './ledger.js';

export type ClientName = 'app' | 'spa' | 'post';

export interface WorkerContext {
  readonly clients: Readonly<Record<ClientName, oidc.Configuration>>;
  readonly issuer: string;
  readonly redirectUri: string;
  readonly postLogoutRedirectUri: string;
  readonly ledger: Ledger;
  /** True once the soak's time or request budget is spent. */
  readonly stopping: () => boolean;
}

/** A token set a worker holds, with the browser and grant it came from. */
interface Held {
  readonly client: ClientName;
  access: string;
  refresh?: string;
  idToken?: string;
  readonly sub: string;
  readonly offline: boolean;
  readonly grantKey: string;
  readonly agent: Agent;
  browserEnded: boolean;
}

const REFRESH_LIFETIME_S = 14 * 86_400;
const CODE_LIFETIME_S = 300;
/** The provider's default refresh grace window is 5 s; a reuse later than this revokes. */
const PAST_GRACE_MS = 6_500;
const POOL_MAX = 12;

/** The OAuth `error` of an openid-client failure, if it carries one. */
function oauthError(e: unknown): string | undefined {
  const x = e as { error?: unknown; cause?: { error?: unknown } };
  const v = x?.error ?? x?.cause?.error;
  return typeof v === 'string' ? v : undefined;
}

const describe = (e: unknown) => `${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 160)}`;

let agentSerial = 0;

export class Worker {
  readonly #c: WorkerContext;
  readonly #users: readonly Credentials[];
  #pool: Held[] = [];
  readonly #retired: Array<{ refresh: string; client: ClientName; grantKey: string; at: number }> = [];
  readonly #deadGrants = new Set<string>();
  #rng: () => number;

  constructor(ctx: WorkerContext, users: readonly Credentials[], seed: number) {
    this.#c = ctx;
    this.#users = users;
    let s = seed >>> 0 || 1;
    // xorshift32: reproducible choices per worker.
    this.#rng = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) / 2 ** 32;
    };
  }

  async run(): Promise<void> {
    const flows: Array<[number, string, () => Promise<void>]> = [
      [25, 'login', () => this.login()],
      [8, 'reauthorize', () => this.reauthorize()],
      [20, 'refresh', () => this.refresh()],
      [8, 'parallel-refresh', () => this.parallelRefresh()],
      [5, 'code-reuse', () => this.codeReuse()],
      [5, 'revoke-access', () => this.revokeAccess()],
      [3, 'revoke-refresh', () => this.revokeRefresh()],
      [5, 'logout', () => this.logout()],
      [3, 'late-reuse', () => this.lateReuse()],
      [10, 'check', () => this.check()],
    ];
    const total = flows.reduce((a, [w]) => a + w, 0);
    while (!this.#c.stopping()) {
      let r = this.#rng() * total;
      const [, name, fn] = flows.find(([w]) => (r -= w) < 0) ?? flows[0]!;
      try {
        await fn();
        this.#c.ledger.flow(name, true);
      } catch (e) {
        this.#c.ledger.flow(name, false);
        this.#c.ledger.violations.push(`${name}: unexpected ${describe(e)}`);
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  #pick<T>(list: readonly T[]): T | undefined {
    return list.length === 0 ? undefined : list[Math.floor(this.#rng() * list.length)];
  }

  #alive(withRefresh = false): Held[] {
    return this.#pool.filter((h) => !this.#deadGrants.has(h.grantKey) && (!withRefresh || h.refresh !== undefined));
  }

  #keep(h: Held): void {
    this.#pool.push(h);
    if (this.#pool.length > POOL_MAX) this.#pool.shift();
  }

  #record(t: oidc.TokenEndpointResponse): void {
    const l = this.#c.ledger;
    l.receive(t.access_token, 'access_token', t.expires_in ?? 3600);
    l.receive(t.refresh_token, 'refresh_token', REFRESH_LIFETIME_S);
    if (t.id_token) {
      const exp = (JSON.parse(Buffer.from(t.id_token.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
      l.receive(t.id_token, 'id_token', Math.max(0, exp - Date.now() / 1000));
    }
  }

  async #introspect(h: { client: ClientName }, token: string): Promise<boolean> {
    return (await oidc.tokenIntrospection(this.#c.clients[h.client], token)).active === true;
  }

  async #userinfoStatus(access: string): Promise<number> {
    const res = await fetch(`${this.#c.issuer}/userinfo`, { headers: { authorization: `Bearer ${access}` }, signal: AbortSignal.timeout(15_000) });
    await res.body?.cancel();
    return res.status;
  }

  /** Authorization request → pages → code → token response (PKCE, state and nonce checked by openid-client). */
  async #authorize(client: ClientName, scope: string, agent: Agent, log: InteractionLog): Promise<{ tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers; callback: URL; attempt: Awaited<ReturnType<typeof authorizationRequest>> }> {
    const c = this.#c;
    const cfg = c.clients[client];
    const attempt = await authorizationRequest(cfg, c.redirectUri, { scope });
    c.ledger.verifiers.push(attempt.verifier);
    const who = this.#pick(this.#users)!;
    const callback = await interact(agent, attempt.url, new URL(c.redirectUri).origin, who, { log });
    c.ledger.consents += log.consentPages;
    const code = callback.searchParams.get('code') ?? undefined;
    c.ledger.expect(code !== undefined, `authorize (${client}): no code but ${callback.searchParams.get('error')}`);
    c.ledger.receive(code, 'authorization_code', CODE_LIFETIME_S);
    const tokens = await oidc.authorizationCodeGrant(cfg, callback, { pkceCodeVerifier: attempt.verifier, expectedState: attempt.state, expectedNonce: attempt.nonce, idTokenExpected: true });
    this.#record(tokens);
    return { tokens, callback, attempt };
  }

  #held(client: ClientName, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, agent: Agent, grantKey: string): Held {
    return {
      client,
      access: tokens.access_token,
      ...(tokens.refresh_token !== undefined && { refresh: tokens.refresh_token }),
      ...(tokens.id_token !== undefined && { idToken: tokens.id_token }),
      sub: tokens.claims()!.sub,
      offline: (tokens.scope ?? '').split(' ').includes('offline_access'),
      grantKey,
      agent,
      browserEnded: false,
    };
  }

  // ------------------------------------------------------------------ flows

  /** A fresh browser signs in through the forms; code exchange; userinfo. */
  async login(): Promise<void> {
    const r = this.#rng();
    const client: ClientName = r < 0.5 ? 'app' : r < 0.8 ? 'spa' : 'post';
    const scope = this.#rng() < 0.75 ? 'openid profile offline_access' : 'openid email';
    const agent = new Agent();
    const log = { loginPages: 0, consentPages: 0 };
    const { tokens } = await this.#authorize(client, scope, agent, log);
    const l = this.#c.ledger;
    l.expect(log.loginPages === 1, `login: ${log.loginPages} login pages`);
    const info = await oidc.fetchUserInfo(this.#c.clients[client], tokens.access_token, tokens.claims()!.sub);
    l.expect(info.sub === tokens.claims()!.sub, 'login: userinfo names another subject');
    // No refresh token without offline_access, nor for a client without the refresh_token grant.
    l.expect((tokens.refresh_token !== undefined) === (scope.includes('offline_access') && client !== 'post'), `login (${client}, ${scope}): refresh token ${tokens.refresh_token !== undefined}`);
    this.#keep(this.#held(client, tokens, agent, `${++agentSerial}:${client}`));
  }

  /** The same browser asks again: no login or consent page; a new code on the same grant. */
  async reauthorize(): Promise<void> {
    const h = this.#pick(this.#alive().filter((x) => !x.browserEnded));
    if (!h) return this.login();
    const log = { loginPages: 0, consentPages: 0 };
    const { tokens } = await this.#authorize(h.client, 'openid', h.agent, log);
    this.#c.ledger.expect(log.loginPages === 0 && log.consentPages === 0, `reauthorize: ${log.loginPages} login and ${log.consentPages} consent pages`);
    this.#keep(this.#held(h.client, tokens, h.agent, h.grantKey));
  }

  /** Rotation: a new refresh token, the old one retired. */
  async refresh(): Promise<void> {
    const h = this.#pick(this.#alive(true));
    if (!h) return this.login();
    const old = h.refresh!;
    const t = await oidc.refreshTokenGrant(this.#c.clients[h.client], old);
    this.#record(t);
    this.#c.ledger.expect(t.refresh_token !== undefined && t.refresh_token !== old, 'refresh: not rotated');
    this.#retired.push({ refresh: old, client: h.client, grantKey: h.grantKey, at: Date.now() });
    h.refresh = t.refresh_token;
    h.access = t.access_token;
    if (t.id_token) h.idToken = t.id_token;
  }

  /** Three refreshes of one token at once, spread over the processes: exactly one wins, nothing is revoked. */
  async parallelRefresh(): Promise<void> {
    const h = this.#pick(this.#alive(true));
    if (!h) return this.login();
    const old = h.refresh!;
    const cfg = this.#c.clients[h.client];
    const results = await Promise.allSettled([0, 1, 2].map(() => oidc.refreshTokenGrant(cfg, old)));
    const l = this.#c.ledger;
    const won = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof oidc.refreshTokenGrant>>> => r.status === 'fulfilled');
    for (const w of won) this.#record(w.value);
    l.expect(won.length === 1, `parallel refresh: ${won.length} of 3 succeeded`);
    for (const r of results) if (r.status === 'rejected') l.expect(oauthError(r.reason) === 'invalid_grant', `parallel refresh: a loser got ${describe(r.reason)}`);
    const winner = won[0]?.value;
    if (!winner) return;
    // Within the grace window the losers revoked nothing: the winner's tokens work.
    l.expect(await this.#introspect(h, winner.access_token), 'parallel refresh: the winner’s access token is not active');
    this.#retired.push({ refresh: old, client: h.client, grantKey: h.grantKey, at: Date.now() });
    h.refresh = winner.refresh_token;
    h.access = winner.access_token;
    if (winner.id_token) h.idToken = winner.id_token;
  }

  /** A code exchanged twice: the second fails and what the first produced dies (RFC 6749 §4.1.2). */
  async codeReuse(): Promise<void> {
    const client: ClientName = this.#rng() < 0.5 ? 'app' : 'spa';
    const agent = new Agent();
    const { tokens, callback, attempt } = await this.#authorize(client, 'openid offline_access', agent, { loginPages: 0, consentPages: 0 });
    const l = this.#c.ledger;
    let again: unknown;
    try {
      const t = await oidc.authorizationCodeGrant(this.#c.clients[client], callback, { pkceCodeVerifier: attempt.verifier, expectedState: attempt.state, expectedNonce: attempt.nonce, idTokenExpected: true });
      this.#record(t);
      again = 'accepted';
    } catch (e) {
      again = oauthError(e) ?? describe(e);
    }
    l.expect(again === 'invalid_grant', `code reuse: the second exchange answered ${String(again)}`);
    l.expect(!(await this.#introspect({ client }, tokens.access_token)), 'code reuse: the first access token is still active');
    let refreshed: unknown;
    try {
      this.#record(await oidc.refreshTokenGrant(this.#c.clients[client], tokens.refresh_token!));
      refreshed = 'accepted';
    } catch (e) {
      refreshed = oauthError(e) ?? describe(e);
    }
    l.expect(refreshed === 'invalid_grant', `code reuse: the first refresh token answered ${String(refreshed)}`);
  }

  /** RFC 7009: an access token revoked alone; the refresh token of its grant still works. */
  async revokeAccess(): Promise<void> {
    const h = this.#pick(this.#alive());
    if (!h) return this.login();
    const cfg = this.#c.clients[h.client];
    const l = this.#c.ledger;
    await oidc.tokenRevocation(cfg, h.access);
    l.expect(!(await this.#introspect(h, h.access)), 'revoke access token: still active');
    l.expect((await this.#userinfoStatus(h.access)) === 401, 'revoke access token: userinfo still answers');
    if (h.refresh === undefined) {
      this.#pool.splice(this.#pool.indexOf(h), 1);
      return;
    }
    const old = h.refresh;
    const t = await oidc.refreshTokenGrant(cfg, old);
    this.#record(t);
    this.#retired.push({ refresh: old, client: h.client, grantKey: h.grantKey, at: Date.now() });
    h.refresh = t.refresh_token;
    h.access = t.access_token;
  }

  /** RFC 7009 §2.1: a refresh token revoked takes its grant with it. */
  async revokeRefresh(): Promise<void> {
    const h = this.#pick(this.#alive(true));
    if (!h) return this.login();
    const cfg = this.#c.clients[h.client];
    await oidc.tokenRevocation(cfg, h.refresh!);
    this.#deadGrants.add(h.grantKey);
    const l = this.#c.ledger;
    let r: unknown;
    try {
      this.#record(await oidc.refreshTokenGrant(cfg, h.refresh!));
      r = 'accepted';
    } catch (e) {
      r = oauthError(e) ?? describe(e);
    }
    l.expect(r === 'invalid_grant', `revoke refresh token: a refresh answered ${String(r)}`);
    l.expect(!(await this.#introspect(h, h.access)), 'revoke refresh token: the grant’s access token is still active');
  }

  /** RP-initiated logout: the browser's session-bound tokens die at once, offline ones live on. */
  async logout(): Promise<void> {
    const c = this.#c;
    const l = c.ledger;
    const agent = new Agent();
    const offline = await this.#authorize('app', 'openid offline_access', agent, { loginPages: 0, consentPages: 0 });
    const online = await this.#authorize('app', 'openid', agent, { loginPages: 0, consentPages: 0 });
    const url = oidc.buildEndSessionUrl(c.clients.app, { id_token_hint: online.tokens.id_token!, post_logout_redirect_uri: c.postLogoutRedirectUri, state: 'soak' });
    const atRp = (u: URL) => u.origin === new URL(c.postLogoutRedirectUri).origin;
    const page = await agent.walk(url, atRp);
    const html = page.response ? await page.response.text() : '';
    const form = formsOf(html).find((f) => f.buttons.some((b) => b.name === 'logout'));
    l.expect(form !== undefined, `logout: no confirmation form (${page.response?.status})`);
    if (!form) return;
    const done = await agent.submit(page.url, form, { logout: 'yes' }, atRp);
    l.expect(done.response === undefined && done.url.searchParams.get('state') === 'soak', 'logout: did not return to the post-logout redirect URI with its state');
    l.expect(!(await this.#introspect({ client: 'app' }, online.tokens.access_token)), 'logout: a session-bound access token is still active');
    l.expect((await this.#userinfoStatus(online.tokens.access_token)) === 401, 'logout: userinfo still answers a session-bound token');
    l.expect(await this.#introspect({ client: 'app' }, offline.tokens.access_token), 'logout: an offline access token died');
    const t = await oidc.refreshTokenGrant(c.clients.app, offline.tokens.refresh_token!);
    this.#record(t);
    const h = this.#held('app', offline.tokens, agent, `${++agentSerial}:app`);
    h.refresh = t.refresh_token;
    h.access = t.access_token;
    h.browserEnded = true;
    this.#retired.push({ refresh: offline.tokens.refresh_token!, client: 'app', grantKey: h.grantKey, at: Date.now() });
    this.#keep(h);
  }

  /** A rotated-out refresh token presented after the grace window: refused, and its family dies. */
  async lateReuse(): Promise<void> {
    const now = Date.now();
    const r = this.#retired.find((x) => now - x.at > PAST_GRACE_MS && !this.#deadGrants.has(x.grantKey));
    if (!r) return this.check();
    this.#retired.splice(this.#retired.indexOf(r), 1);
    const l = this.#c.ledger;
    let answer: unknown;
    try {
      this.#record(await oidc.refreshTokenGrant(this.#c.clients[r.client], r.refresh));
      answer = 'accepted';
    } catch (e) {
      answer = oauthError(e) ?? describe(e);
    }
    l.expect(answer === 'invalid_grant', `late reuse: answered ${String(answer)}`);
    this.#deadGrants.add(r.grantKey);
    const current = this.#pool.find((h) => h.grantKey === r.grantKey);
    if (current) l.expect(!(await this.#introspect(current, current.access)), 'late reuse: the family’s current access token is still active');
  }

  /** What a resource server does: introspection and userinfo of a token that must be active. */
  async check(): Promise<void> {
    const h = this.#pick(this.#alive());
    if (!h) return this.login();
    this.#c.ledger.expect(await this.#introspect(h, h.access), `check (${h.client}): an access token that should be active is not`);
    this.#c.ledger.expect((await this.#userinfoStatus(h.access)) === 200, 'check: userinfo refused an active token');
  }
}
