/**
 * A test relying party: a small HTTP server on 127.0.0.1 that receives back-channel logout
 * tokens and, for browser tests, runs the code flow with openid-client (login, callback,
 * RP-initiated logout).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';

export interface SignIn {
  readonly tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  readonly claims: oidc.IDToken;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (data += c));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class TestRelyingParty {
  readonly #server: Server;
  #origin = '';
  /** Raw logout tokens received at /backchannel-logout, in order. */
  readonly logoutTokens: string[] = [];
  /** Content types of those requests. */
  readonly logoutContentTypes: string[] = [];
  /** Status /backchannel-logout answers (tests set 500 to see a failing RP). */
  backchannelStatus = 200;
  config: oidc.Configuration | undefined;
  readonly #pending = new Map<string, { verifier: string; nonce: string }>();
  /** Completed sign-ins, by state. */
  readonly signIns = new Map<string, SignIn>();
  #waiters: Array<() => void> = [];

  constructor(readonly name = 'rp') {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: Error) => {
        res.statusCode = 500;
        res.end(`rp error: ${e.name}: ${e.message}`);
      });
    });
  }

  get origin(): string {
    return this.#origin;
  }

  get redirectUri(): string {
    return `${this.#origin}/callback`;
  }

  get postLogoutRedirectUri(): string {
    return `${this.#origin}/`;
  }

  get backchannelUri(): string {
    return `${this.#origin}/backchannel-logout`;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.#origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  /** Resolves once `count` logout tokens have arrived (or rejects after `timeoutMs`). */
  async waitForLogoutTokens(count: number, timeoutMs = 3000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.logoutTokens.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} logout tokens, got ${this.logoutTokens.length}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.logoutTokens.slice(0, count);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.#origin);
    const html = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><html><head><title>${this.name}</title></head><body>${body}</body></html>`);
    };
    if (req.method === 'POST' && url.pathname === '/backchannel-logout') {
      const body = new URLSearchParams(await readBody(req));
      this.logoutContentTypes.push(String(req.headers['content-type']));
      const token = body.get('logout_token');
      if (token) this.logoutTokens.push(token);
      for (const w of this.#waiters.splice(0)) w();
      res.writeHead(this.backchannelStatus, { 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const config = this.config;
    if (url.pathname === '/login' && config) {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      this.#pending.set(state, { verifier, nonce });
      const scope = url.searchParams.get('scope') ?? 'openid profile email';
      const target = oidc.buildAuthorizationUrl(config, {
        redirect_uri: this.redirectUri,
        scope,
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      res.writeHead(302, { location: target.href });
      res.end();
      return;
    }
    if (url.pathname === '/callback' && config) {
      const state = url.searchParams.get('state') ?? '';
      const pending = this.#pending.get(state);
      if (!pending) return html(400, `<h1>Unknown state</h1><p id="error">${esc(url.searchParams.get('error') ?? '')}</p>`);
      this.#pending.delete(state);
      const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: pending.verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      this.signIns.set(state, { tokens, claims });
      return html(
        200,
        `<h1>Signed in to ${esc(this.name)}</h1><p id="sub">${esc(claims.sub)}</p><p id="sid">${esc(String(claims.sid ?? ''))}</p>` +
          `<p><a id="logout" href="/logout?state=${encodeURIComponent(state)}">Sign out</a></p>`,
      );
    }
    if (url.pathname === '/logout' && config) {
      const signIn = this.signIns.get(url.searchParams.get('state') ?? '');
      if (!signIn) return html(400, 'unknown sign-in');
      const target = oidc.buildEndSessionUrl(config, {
        id_token_hint: signIn.tokens.id_token!,
        post_logout_redirect_uri: this.postLogoutRedirectUri,
        state: 'rp-logout-state',
      });
      res.writeHead(302, { location: target.href });
      res.end();
      return;
    }
    if (url.pathname === '/cross-site-post' && config) {
      // A form on this (other) site that POSTs to the provider: a SameSite=Lax cookie is not sent.
      const target = url.searchParams.get('target') ?? '';
      const fields = [...url.searchParams].filter(([k]) => k !== 'target');
      return html(
        200,
        `<form id="f" method="post" action="${esc(target)}">${fields.map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('')}<button>go</button></form>` +
          `<script>document.getElementById('f').submit()</script>`,
      );
    }
    if (url.pathname === '/') return html(200, `<h1>${esc(this.name)} home</h1><p id="state">${esc(url.searchParams.get('state') ?? '')}</p>`);
    html(404, 'not found');
  }
}
