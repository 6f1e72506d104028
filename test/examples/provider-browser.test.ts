/**
 * The example provider in a real browser: Debian's headless Chromium driven by playwright-core
 * goes through login, consent, the account page and logout, with helmet's CSP in force and a
 * relying party on another site. Screenshots go to test-artifacts/examples/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { SESSION_COOKIE } from '../../examples/provider/app.js';
import { freshUser, startProvider, type RunningProvider } from './helpers/provider.js';
import { TestRelyingParty } from './helpers/relying-party.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = 'test-artifacts/examples';
const APP_SECRET = 'browser-app-secret-0123456789';

describe('example provider in headless Chromium', function () {
  this.timeout(60_000);
  let browser: Browser;
  let op: RunningProvider;
  let rp: TestRelyingParty;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} (Debian package "chromium")`);
    mkdirSync(ARTIFACTS, { recursive: true });
    rp = await new TestRelyingParty('Browser RP').start(); // http://127.0.0.1:… — another site than the OP
    op = await startProvider({
      host: 'localhost', // http://localhost:… — so cookies and forms cross sites as in production
      clients: [
        {
          client_id: 'app',
          client_name: 'Browser Test App',
          client_secret: APP_SECRET,
          redirect_uris: [rp.redirectUri],
          post_logout_redirect_uris: [rp.postLogoutRedirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          backchannel_logout_uri: rp.backchannelUri,
          backchannel_logout_session_required: true,
        },
      ],
    });
    rp.config = await oidc.discovery(new URL(op.issuer), 'app', undefined, oidc.ClientSecretBasic(APP_SECRET), { execute: [oidc.allowInsecureRequests] });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    await rp?.close();
  });

  /** A fresh browser profile that records CSP violations and console errors. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page; violations: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    return { context, page, violations };
  }

  async function login(page: Page, who: { username: string; password: string }, shot?: string): Promise<void> {
    await page.waitForSelector('input[name="username"]');
    if (shot) await page.screenshot({ path: `${ARTIFACTS}/${shot}.png`, fullPage: true });
    await page.fill('input[name="username"]', who.username);
    await page.fill('input[name="password"]', who.password);
    await page.click('button[type="submit"]');
  }

  it('login, consent, account page and RP-initiated logout; HttpOnly SameSite=Lax cookie; CSP allows the redirects', async () => {
    const user = freshUser();
    const { context, page, violations } = await newPage();
    try {
      await page.goto(`${rp.origin}/login`);
      assert.equal(new URL(page.url()).origin, op.issuer, 'the RP sent the browser to the provider');
      await login(page, user, '01-login');

      await page.waitForSelector('button[name="decision"][value="allow"]');
      assert.match(await page.textContent('main') ?? '', /Browser Test App/);
      await page.screenshot({ path: `${ARTIFACTS}/02-consent.png`, fullPage: true });
      await page.click('button[name="decision"][value="allow"]');

      // The consent form's POST ends in a redirect to the RP on another origin: CSP form-action must allow it.
      await page.waitForURL(`${rp.origin}/callback?**`);
      const sid = await page.textContent('#sid');
      await page.screenshot({ path: `${ARTIFACTS}/03-rp-signed-in.png`, fullPage: true });
      const [signIn] = [...rp.signIns.values()];
      assert.ok(signIn, 'the RP exchanged the code');
      assert.equal(sid, signIn.claims.sid);

      const cookies = await context.cookies(op.issuer);
      const session = cookies.find((c) => c.name === SESSION_COOKIE);
      assert.ok(session, 'the provider set its session cookie');
      assert.equal(session.httpOnly, true);
      assert.equal(session.sameSite, 'Lax');
      assert.equal(session.secure, false, 'plain-HTTP development issuer');
      assert.equal(session.path, '/');

      await page.goto(`${op.issuer}/account`);
      await page.waitForSelector('table.grants');
      assert.equal(await page.evaluate('document.cookie'), '', 'scripts cannot read the HttpOnly session cookie');
      assert.match(await page.textContent('table.grants') ?? '', /Browser Test App/);
      assert.match(await page.textContent('table.sessions') ?? '', /This browser/);
      await page.screenshot({ path: `${ARTIFACTS}/04-account.png`, fullPage: true });

      const state = [...rp.signIns.keys()][0]!;
      await page.goto(`${rp.origin}/logout?state=${encodeURIComponent(state)}`);
      await page.waitForSelector('button[name="logout"][value="yes"]');
      await page.screenshot({ path: `${ARTIFACTS}/05-logout-confirm.png`, fullPage: true });
      await page.click('button[name="logout"][value="yes"]');
      await page.waitForURL(`${rp.origin}/?state=rp-logout-state`);
      assert.equal(await page.textContent('#state'), 'rp-logout-state');

      const [lt] = await rp.waitForLogoutTokens(1);
      const { payload } = await jwtVerify(lt!, createRemoteJWKSet(new URL(`${op.issuer}/jwks`)), { issuer: op.issuer, audience: 'app', typ: 'logout+jwt' });
      assert.equal(payload.sid, sid);
      assert.equal((await oidc.tokenIntrospection(rp.config!, signIn.tokens.access_token)).active, false);

      await page.goto(`${op.issuer}/account`);
      await page.waitForSelector('input[name="password"]');
      assert.equal(new URL(page.url()).pathname, '/login', 'signed out: the account page asks to sign in');
      await page.screenshot({ path: `${ARTIFACTS}/06-signed-out.png`, fullPage: true });
      assert.deepEqual(violations, []);
    } finally {
      await context.close();
    }
  });

  it('fault 20: cross-site POSTs without the Lax cookie neither lose the session nor fake a logout', async () => {
    const user = freshUser();
    const { context, page, violations } = await newPage();
    try {
      await page.goto(`${rp.origin}/login`);
      await login(page, user);
      await page.click('button[name="decision"][value="allow"]');
      await page.waitForURL(`${rp.origin}/callback?**`);
      const before = (await context.cookies(op.issuer)).find((c) => c.name === SESSION_COOKIE)!.value;

      // An auto-submitting form on the RP's site POSTs prompt=none to the provider.
      const q = new URLSearchParams({ target: `${op.issuer}/authorize`, client_id: 'app', redirect_uri: rp.redirectUri, response_type: 'code', scope: 'openid', prompt: 'none', state: 'xs' });
      await page.goto(`${rp.origin}/cross-site-post?${q}`);
      await page.waitForURL(`${rp.origin}/callback?**`);
      const landed = new URL(page.url());
      assert.equal(landed.searchParams.get('error'), 'login_required', 'the browser withheld the Lax cookie');
      const after = (await context.cookies(op.issuer)).find((c) => c.name === SESSION_COOKIE)!.value;
      assert.equal(after, before, 'the session cookie was not overwritten');
      await page.goto(`${op.issuer}/account`);
      await page.waitForSelector('table.sessions');
      assert.equal(new URL(page.url()).pathname, '/account', 'still signed in for top-level navigation');

      // A cross-site logout POST: the provider re-submits it from its own origin (script from 'self').
      const lq = new URLSearchParams({ target: `${op.issuer}/session/end`, client_id: 'app', post_logout_redirect_uri: rp.postLogoutRedirectUri, state: 'xs-logout' });
      await page.goto(`${rp.origin}/cross-site-post?${lq}`);
      await page.waitForSelector('button[name="logout"][value="yes"]');
      await page.screenshot({ path: `${ARTIFACTS}/07-cross-site-logout-confirm.png`, fullPage: true });
      await page.click('button[name="logout"][value="yes"]');
      await page.waitForURL(`${rp.origin}/?state=xs-logout`);
      assert.deepEqual(violations, []);
    } finally {
      await context.close();
    }
  });

  it('control: with form-action limited to self, the browser blocks the redirect to the RP', async () => {
    // Proves the CSP check above is real: the same provider behind a proxy that rewrites its
    // CSP to helmet's default form-action 'self' is stopped by Chromium at the redirect to the RP.
    // (A proxy, not playwright's request interception, which bypasses the browser's redirect checks.)
    const upstream = new URL(op.issuer);
    const proxy = createServer((req, res) => {
      const forward = httpRequest({ host: '127.0.0.1', port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host } }, (up) => {
        const headers = { ...up.headers };
        const csp = headers['content-security-policy'];
        if (typeof csp === 'string') headers['content-security-policy'] = csp.replace(/form-action [^;]+/, "form-action 'self'");
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      });
      req.pipe(forward);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const base = `http://localhost:${(proxy.address() as AddressInfo).port}`;
    const user = freshUser();
    const { context, page, violations } = await newPage();
    try {
      const q = new URLSearchParams({ client_id: 'app', redirect_uri: rp.redirectUri, response_type: 'code', scope: 'openid', state: 'control' });
      await page.goto(`${base}/authorize?${q}`);
      await login(page, user);
      await page.waitForSelector('button[name="decision"][value="allow"]');
      await page.click('button[name="decision"][value="allow"]');
      await page.waitForTimeout(1000);
      assert.notEqual(new URL(page.url()).origin, rp.origin, 'the redirect to the RP was blocked');
      assert.ok(violations.some((v) => /form-action/.test(v)), `a form-action violation was reported: ${violations.join(' | ')}`);
    } finally {
      await context.close();
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
