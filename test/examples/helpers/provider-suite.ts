/**
 * The example provider driven end to end by a real OpenID Connect client (openid-client 6)
 * and a cookie-jar "browser" over HTTP, run once per store configuration (memory, Redis).
 */
import assert from 'node:assert/strict';
import type session from 'express-session';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { SessionStore } from '../../../src/index.js';
import { BACKCHANNEL_LOGOUT_EVENT } from '../../../examples/provider/backchannel.js';
import { SESSION_COOKIE } from '../../../examples/provider/app.js';
import { Agent, formsOf } from './agent.js';
import { authorizationRequest, interact, signIn, type InteractionLog } from './flows.js';
import { freshUser, sessionIdOfCookie, startProvider, storedSession, type RunningProvider } from './provider.js';
import { TestRelyingParty } from './relying-party.js';

export interface StoreSetup {
  readonly treeStore?: SessionStore;
  readonly sessionStore?: session.Store;
  /** Makes the stores unreachable and back (Redis only). */
  readonly outage?: { begin(): Promise<void>; end(): Promise<void> };
  close(): Promise<void>;
}

const APP_SECRET = 'app-secret-0123456789abcdef';
const POST_SECRET = 'post-secret-0123456789abcdef';
const OTHER_SECRET = 'other-secret-0123456789abcdef';
const insecure = { execute: [oidc.allowInsecureRequests] };

async function expectOAuthError(p: Promise<unknown>, error: string, status?: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    const err = e as { error?: string; status?: number; cause?: { error?: string } };
    assert.equal(err.error ?? err.cause?.error, error, `expected ${error}, got ${String(e)}`);
    if (status !== undefined) assert.equal(err.status, status);
    return true;
  });
}

export function providerSuite(label: string, makeStores: () => Promise<StoreSetup>, options: { outage?: boolean } = {}): void {
  describe(`example provider with openid-client (${label})`, function () {
    this.timeout(20_000);
    let stores: StoreSetup;
    let rp: TestRelyingParty;
    let rp2: TestRelyingParty;
    let op: RunningProvider;
    let app: oidc.Configuration; // confidential, client_secret_basic, refresh, back-channel (sid required)
    let postApp: oidc.Configuration; // confidential, client_secret_post, no refresh
    let spa: oidc.Configuration; // public (none), PKCE, pairwise
    let other: oidc.Configuration; // second confidential client with its own back-channel URI

    const token = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${op.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form) });
    const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });
    const userinfoStatus = async (accessToken: string) => {
      const res = await fetch(`${op.issuer}/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
      return { status: res.status, challenge: res.headers.get('www-authenticate'), body: (await res.json()) as Record<string, unknown> };
    };
    const atRp = (u: URL) => u.origin === rp.origin;

    before(async () => {
      stores = await makeStores();
      rp = await new TestRelyingParty('rp').start();
      rp2 = await new TestRelyingParty('rp2').start();
      op = await startProvider({
        ...(stores.treeStore && { treeStore: stores.treeStore }),
        ...(stores.sessionStore && { sessionStore: stores.sessionStore }),
        // Reuse revokes at once (no grace window), so the reuse tests see the revocation.
        managerOptions: { refresh: { graceSeconds: 0 } },
        clients: [
          {
            client_id: 'app',
            client_name: 'Test App',
            client_secret: APP_SECRET,
            redirect_uris: [rp.redirectUri],
            post_logout_redirect_uris: [rp.postLogoutRedirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            backchannel_logout_uri: rp.backchannelUri,
            backchannel_logout_session_required: true,
          },
          { client_id: 'post-app', client_secret: POST_SECRET, token_endpoint_auth_method: 'client_secret_post', redirect_uris: [rp.redirectUri] },
          {
            client_id: 'spa',
            token_endpoint_auth_method: 'none',
            redirect_uris: [rp.redirectUri],
            grant_types: ['authorization_code', 'refresh_token'],
            subject_type: 'pairwise',
          },
          {
            client_id: 'other',
            client_secret: OTHER_SECRET,
            redirect_uris: [rp2.redirectUri],
            backchannel_logout_uri: rp2.backchannelUri,
            backchannel_logout_session_required: true,
          },
        ],
      });
      app = await oidc.discovery(new URL(op.issuer), 'app', undefined, oidc.ClientSecretBasic(APP_SECRET), insecure);
      oidc.enableNonRepudiationChecks(app); // ID token signatures checked against the JWKS
      postApp = await oidc.discovery(new URL(op.issuer), 'post-app', undefined, oidc.ClientSecretPost(POST_SECRET), insecure);
      spa = await oidc.discovery(new URL(op.issuer), 'spa', undefined, oidc.None(), insecure);
      other = await oidc.discovery(new URL(op.issuer), 'other', undefined, oidc.ClientSecretBasic(OTHER_SECRET), insecure);
      rp.config = app;
    });

    after(async () => {
      await op?.close();
      await rp?.close();
      await rp2?.close();
      await stores?.close();
    });

    // Two accounts no other test used: grants and sessions of earlier tests do not interfere.
    let alice: ReturnType<typeof freshUser>;
    let bob: ReturnType<typeof freshUser>;
    beforeEach(() => {
      alice = freshUser();
      bob = freshUser();
      rp.logoutTokens.length = 0;
      rp2.logoutTokens.length = 0;
      rp.backchannelStatus = 200;
    });

    describe('discovery and keys', () => {
      it('publishes OpenID metadata that openid-client accepts, and an ES256 JWKS', async () => {
        const m = app.serverMetadata();
        assert.equal(m.issuer, op.issuer);
        assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
        assert.deepEqual(m.id_token_signing_alg_values_supported, ['ES256']);
        assert.equal(m.backchannel_logout_supported, true);
        assert.equal(m.backchannel_logout_session_supported, true);
        for (const k of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'end_session_endpoint', 'introspection_endpoint', 'revocation_endpoint'] as const) {
          assert.ok(String(m[k]).startsWith(`${op.issuer}/`), k);
        }
        const jwks = (await (await fetch(m.jwks_uri!)).json()) as { keys: Array<Record<string, unknown>> };
        assert.equal(jwks.keys.length, 1);
        assert.equal(jwks.keys[0]!.alg, 'ES256');
        assert.equal(jwks.keys[0]!.crv, 'P-256');
        assert.equal(jwks.keys[0]!.d, undefined, 'the private part is never published');
      });
    });

    describe('authorization code flow', () => {
      it('code + PKCE: validated ID token (ES256, nonce, sid, auth_time), userinfo, introspection', async () => {
        const agent = new Agent();
        const { tokens, claims, callback } = await signIn(agent, app, rp.redirectUri, alice);
        assert.equal(callback.searchParams.get('iss'), op.issuer, 'RFC 9207 iss in the authorization response');
        assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'ES256');
        // Independently of openid-client: the ID token verifies against the published JWKS.
        const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(app.serverMetadata().jwks_uri!)), { issuer: op.issuer, audience: 'app' });
        assert.equal(payload.sub, claims.sub);
        assert.equal(typeof claims.sid, 'string');
        assert.equal(typeof claims.auth_time, 'number');
        assert.deepEqual(claims.amr, ['pwd']);
        assert.equal(tokens.token_type.toLowerCase(), 'bearer');
        assert.equal(tokens.refresh_token, undefined, 'no refresh token without offline_access');

        const info = await oidc.fetchUserInfo(app, tokens.access_token, claims.sub);
        assert.equal(info.sub, claims.sub);
        assert.equal(info.name, alice.name);
        assert.equal(info.email, alice.email);

        const intro = await oidc.tokenIntrospection(app, tokens.access_token);
        assert.equal(intro.active, true);
        assert.equal(intro.client_id, 'app');
        assert.equal(intro.sub, claims.sub);
        assert.equal(intro.sid, claims.sid);
        assert.equal(intro.iss, op.issuer);
        // Another client learns nothing about app's token.
        assert.deepEqual(await oidc.tokenIntrospection(postApp, tokens.access_token), { active: false });
      });

      it('a second authorization in the same browser skips login and consent and keeps the sid', async () => {
        const agent = new Agent();
        const log: InteractionLog = { loginPages: 0, consentPages: 0 };
        const first = await signIn(agent, app, rp.redirectUri, alice, {}, log);
        assert.deepEqual(log, { loginPages: 1, consentPages: 1 });
        const second = await signIn(agent, app, rp.redirectUri, alice, {}, log);
        assert.deepEqual(log, { loginPages: 1, consentPages: 1 }, 'no page the second time');
        assert.equal(second.claims.sid, first.claims.sid, 'sid is per (browser session, client)');
        assert.equal(second.claims.sub, first.claims.sub);
        // A different client in the same browser gets a different sid.
        const third = await signIn(agent, postApp, rp.redirectUri, alice, {}, log);
        assert.notEqual(third.claims.sid, first.claims.sid);
        assert.equal(log.consentPages, 2, 'consent is per client');
      });

      it('refresh with rotation: the successor works, the rotated token is invalid_grant and kills the family', async () => {
        const agent = new Agent();
        const { tokens, claims } = await signIn(agent, app, rp.redirectUri, alice, { scope: 'openid offline_access', prompt: 'consent' });
        assert.ok(tokens.refresh_token);
        const r1 = await oidc.refreshTokenGrant(app, tokens.refresh_token);
        assert.ok(r1.refresh_token && r1.refresh_token !== tokens.refresh_token, 'rotated');
        assert.equal(r1.claims()?.sub, claims.sub);
        assert.equal(r1.claims()?.sid, claims.sid);
        assert.equal((await oidc.tokenIntrospection(app, r1.access_token)).active, true);
        // Narrowing is allowed, widening is not.
        const narrowed = await oidc.refreshTokenGrant(app, r1.refresh_token!, { scope: 'openid' });
        assert.equal(narrowed.scope, 'openid');
        await expectOAuthError(oidc.refreshTokenGrant(app, narrowed.refresh_token!, { scope: 'openid offline_access email' }), 'invalid_scope');
        // Presenting a rotated token again: invalid_grant, and everything of the grant dies.
        await expectOAuthError(oidc.refreshTokenGrant(app, r1.refresh_token!), 'invalid_grant');
        assert.equal((await oidc.tokenIntrospection(app, narrowed.access_token)).active, false);
        assert.equal((await oidc.tokenIntrospection(app, r1.access_token)).active, false);
      });

      it('client_secret_post and a public client with PKCE (pairwise sub) work; their subs differ', async () => {
        const agent = new Agent();
        const a = await signIn(agent, postApp, rp.redirectUri, bob);
        const s = await signIn(agent, spa, rp.redirectUri, bob, { scope: 'openid offline_access' });
        assert.ok(s.tokens.refresh_token, 'public clients may refresh (PKCE-bound code)');
        assert.notEqual(s.claims.sub, a.claims.sub, 'pairwise sub differs from public sub');
        const info = await oidc.fetchUserInfo(spa, s.tokens.access_token, s.claims.sub);
        assert.equal(info.sub, s.claims.sub);
        const r = await oidc.refreshTokenGrant(spa, s.tokens.refresh_token!);
        assert.ok(r.access_token);
      });

      it('code reuse answers invalid_grant and kills the tokens of the first exchange', async () => {
        const agent = new Agent();
        const attempt = await authorizationRequest(app, rp.redirectUri, { scope: 'openid offline_access', prompt: 'consent' });
        const callback = await interact(agent, attempt.url, rp.origin, alice);
        const checks = { pkceCodeVerifier: attempt.verifier, expectedState: attempt.state, expectedNonce: attempt.nonce };
        const first = await oidc.authorizationCodeGrant(app, callback, checks);
        assert.equal((await userinfoStatus(first.access_token)).status, 200);
        await expectOAuthError(oidc.authorizationCodeGrant(app, callback, checks), 'invalid_grant', 400);
        assert.equal((await oidc.tokenIntrospection(app, first.access_token)).active, false);
        const ui = await userinfoStatus(first.access_token);
        assert.equal(ui.status, 401);
        assert.match(ui.challenge!, /error="invalid_token"/);
        await expectOAuthError(oidc.refreshTokenGrant(app, first.refresh_token!), 'invalid_grant');
      });

      it('PKCE and redirect_uri mismatches, wrong client and unknown codes are invalid_grant', async () => {
        const agent = new Agent();
        const attempt = await authorizationRequest(app, rp.redirectUri);
        const callback = await interact(agent, attempt.url, rp.origin, alice);
        const code = callback.searchParams.get('code')!;
        const auth = basic('app', APP_SECRET);
        const wrongVerifier = await token({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: oidc.randomPKCECodeVerifier() }, auth);
        assert.equal(wrongVerifier.status, 400);
        assert.equal(((await wrongVerifier.json()) as { error: string }).error, 'invalid_grant');
        const noVerifier = await token({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri }, auth);
        assert.equal(((await noVerifier.json()) as { error: string }).error, 'invalid_grant');
        const wrongRedirect = await token({ grant_type: 'authorization_code', code, redirect_uri: `${rp.origin}/elsewhere`, code_verifier: attempt.verifier }, auth);
        assert.equal(((await wrongRedirect.json()) as { error: string }).error, 'invalid_grant');
        const otherClient = await token({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: attempt.verifier }, basic('other', OTHER_SECRET));
        assert.equal(((await otherClient.json()) as { error: string }).error, 'invalid_grant');
        const unknown = await token({ grant_type: 'authorization_code', code: 'x'.repeat(40), redirect_uri: rp.redirectUri }, auth);
        assert.equal(unknown.status, 400);
        assert.equal(((await unknown.json()) as { error: string }).error, 'invalid_grant');
        // The failed attempts did not use the code up: the right exchange still works.
        const ok = await token({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: attempt.verifier }, auth);
        assert.equal(ok.status, 200);
      });

      it('a public client must use PKCE (S256 only)', async () => {
        const noPkce = oidc.buildAuthorizationUrl(spa, { redirect_uri: rp.redirectUri, scope: 'openid', state: 'st1' });
        const hop = await new Agent().walk(noPkce, atRp);
        assert.equal(hop.url.searchParams.get('error'), 'invalid_request');
        assert.equal(hop.url.searchParams.get('state'), 'st1');
        assert.equal(hop.url.searchParams.get('iss'), op.issuer);
        const plain = oidc.buildAuthorizationUrl(spa, { redirect_uri: rp.redirectUri, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
        assert.equal((await new Agent().walk(plain, atRp)).url.searchParams.get('error'), 'invalid_request');
      });
    });

    describe('prompt, max_age and consent', () => {
      it('prompt=none without a login is login_required; with a login but no consent, consent_required', async () => {
        const agent = new Agent();
        const a = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        const hop = await agent.walk(a.url, atRp);
        assert.equal(hop.url.searchParams.get('error'), 'login_required');
        assert.equal(hop.url.searchParams.get('state'), a.state);
        assert.equal(agent.setCookies.length, 0, 'prompt=none writes no session');
        await signIn(agent, postApp, rp.redirectUri, alice);
        const b = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        assert.equal((await agent.walk(b.url, atRp)).url.searchParams.get('error'), 'consent_required');
        // After consent, prompt=none succeeds silently.
        await signIn(agent, app, rp.redirectUri, alice);
        const c = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        assert.ok((await agent.walk(c.url, atRp)).url.searchParams.get('code'));
      });

      it('prompt=login and max_age=0 ask for the password again; prompt=consent asks again', async () => {
        const agent = new Agent();
        const log: InteractionLog = { loginPages: 0, consentPages: 0 };
        await signIn(agent, app, rp.redirectUri, alice, {}, log);
        await signIn(agent, app, rp.redirectUri, alice, { prompt: 'login' }, log);
        assert.equal(log.loginPages, 2);
        const aged = await signIn(agent, app, rp.redirectUri, alice, { max_age: '0' }, log);
        assert.equal(log.loginPages, 3);
        assert.ok(typeof aged.claims.auth_time === 'number');
        await signIn(agent, app, rp.redirectUri, alice, { prompt: 'consent' }, log);
        assert.equal(log.consentPages, 2);
        assert.equal(log.loginPages, 3);
      });

      it('denying consent returns access_denied with the state', async () => {
        const a = await authorizationRequest(app, rp.redirectUri);
        const cb = await interact(new Agent(), a.url, rp.origin, bob, { decision: 'deny' });
        assert.equal(cb.searchParams.get('error'), 'access_denied');
        assert.equal(cb.searchParams.get('state'), a.state);
        assert.equal(cb.searchParams.get('code'), null);
      });

      it('a wrong password shows the form again (401) and logs nobody in', async () => {
        const agent = new Agent();
        const a = await authorizationRequest(app, rp.redirectUri);
        const hop = await agent.walk(a.url, atRp);
        const form = formsOf(await hop.response!.text()).find((f) => f.inputs.includes('password'))!;
        const bad = await agent.submit(hop.url, form, { username: alice.username, password: 'nope' }, atRp);
        assert.equal(bad.response!.status, 401);
        assert.match(await bad.response!.text(), /Wrong username or password/);
        const none = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        assert.equal((await agent.walk(none.url, atRp)).url.searchParams.get('error'), 'login_required');
      });

      it('bad authorization requests: unknown client and unregistered redirect_uri are pages, never redirects', async () => {
        const agent = new Agent();
        const unknownClient = await agent.request(`${op.issuer}/authorize?client_id=nope&redirect_uri=${encodeURIComponent(rp.redirectUri)}&response_type=code&scope=openid`);
        assert.equal(unknownClient.status, 400);
        assert.equal(unknownClient.headers.get('location'), null);
        const evil = await agent.request(`${op.issuer}/authorize?client_id=app&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/steal')}&response_type=code&scope=openid`);
        assert.equal(evil.status, 400);
        assert.equal(evil.headers.get('location'), null);
        const html = await evil.text();
        assert.doesNotMatch(html, /127\.0\.0\.1:1/, 'the rejected URI is not echoed');
        const tokenType = await agent.walk(`${op.issuer}/authorize?client_id=app&redirect_uri=${encodeURIComponent(rp.redirectUri)}&response_type=token&scope=openid&state=s`, atRp);
        assert.equal(tokenType.url.searchParams.get('error'), 'unsupported_response_type');
        const noOpenid = await agent.walk(`${op.issuer}/authorize?client_id=app&redirect_uri=${encodeURIComponent(rp.redirectUri)}&response_type=code&scope=profile`, atRp);
        assert.equal(noOpenid.url.searchParams.get('error'), 'invalid_scope');
      });
    });

    describe('token endpoint errors', () => {
      it('invalid_client is 401 with WWW-Authenticate; wrong secret, unknown client, wrong method', async () => {
        for (const headers of [basic('app', 'wrong-secret-0123456789'), basic('ghost', 'x'), {}]) {
          const res = await token({ grant_type: 'authorization_code', code: 'x'.repeat(40), redirect_uri: rp.redirectUri }, headers);
          assert.equal(res.status, 401);
          assert.match(res.headers.get('www-authenticate')!, /^Basic realm=/);
          assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
        }
        // app is registered for client_secret_basic: the same secret in the body is refused.
        const viaPost = await token({ grant_type: 'authorization_code', code: 'x'.repeat(40), redirect_uri: rp.redirectUri, client_id: 'app', client_secret: APP_SECRET });
        assert.equal(viaPost.status, 401);
        const both = await token({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(40), client_secret: APP_SECRET }, basic('app', APP_SECRET));
        assert.equal(((await both.json()) as { error: string }).error, 'invalid_request');
      });

      it('unsupported_grant_type, invalid_request, unauthorized_client', async () => {
        const auth = basic('app', APP_SECRET);
        const cc = await token({ grant_type: 'client_credentials' }, auth);
        assert.equal(cc.status, 400);
        assert.equal(((await cc.json()) as { error: string }).error, 'unsupported_grant_type');
        const missing = await token({ grant_type: 'authorization_code', redirect_uri: rp.redirectUri }, auth);
        assert.equal(((await missing.json()) as { error: string }).error, 'invalid_request');
        const noType = await token({}, auth);
        assert.equal(((await noType.json()) as { error: string }).error, 'invalid_request');
        const repeated = await fetch(`${op.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth }, body: 'grant_type=refresh_token&refresh_token=a&refresh_token=b' });
        assert.equal(((await repeated.json()) as { error: string }).error, 'invalid_request');
        const noRefresh = await token({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(40) }, basic('other', OTHER_SECRET));
        assert.equal(((await noRefresh.json()) as { error: string }).error, 'unauthorized_client');
        assert.equal(noRefresh.headers.get('cache-control'), 'no-store');
      });
    });

    describe('revocation', () => {
      it('revoking an access token kills it (introspection, userinfo); another client cannot revoke it', async () => {
        const agent = new Agent();
        const { tokens } = await signIn(agent, app, rp.redirectUri, alice);
        await oidc.tokenRevocation(postApp, tokens.access_token); // 200, no effect
        assert.equal((await oidc.tokenIntrospection(app, tokens.access_token)).active, true);
        await oidc.tokenRevocation(app, tokens.access_token);
        assert.equal((await oidc.tokenIntrospection(app, tokens.access_token)).active, false);
        assert.equal((await userinfoStatus(tokens.access_token)).status, 401);
        // Unknown and repeated revocations are 200 too (RFC 7009 §2.2).
        await oidc.tokenRevocation(app, tokens.access_token);
        await oidc.tokenRevocation(app, 'not-a-token-at-all');
      });

      it('revoking a refresh token revokes its grant: the access tokens die too', async () => {
        const agent = new Agent();
        const { tokens } = await signIn(agent, app, rp.redirectUri, alice, { scope: 'openid offline_access', prompt: 'consent' });
        await oidc.tokenRevocation(app, tokens.refresh_token!, { token_type_hint: 'refresh_token' });
        assert.equal((await oidc.tokenIntrospection(app, tokens.refresh_token!)).active, false);
        assert.equal((await oidc.tokenIntrospection(app, tokens.access_token)).active, false);
        await expectOAuthError(oidc.refreshTokenGrant(app, tokens.refresh_token!), 'invalid_grant');
      });
    });

    describe('RP-initiated logout and back-channel logout', () => {
      async function logoutVia(agent: Agent, url: URL): Promise<URL> {
        const hop = await agent.walk(url, atRp);
        assert.equal(hop.response?.status, 200);
        const html = await hop.response!.text();
        const form = formsOf(html).find((f) => f.buttons.some((b) => b.name === 'logout' && b.value === 'yes'));
        assert.ok(form, 'a confirmation form');
        assert.ok(form.fields.csrf, 'with a CSRF token');
        const done = await agent.submit(hop.url, form, { logout: 'yes' }, atRp);
        return done.url;
      }

      it('confirm page, logout token to each affected client (sid = the ID token sid), redirect with state (fault 11)', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice);
        const o = await signIn(agent, other, rp2.redirectUri, alice);
        const end = oidc.buildEndSessionUrl(app, { id_token_hint: a.tokens.id_token!, post_logout_redirect_uri: rp.postLogoutRedirectUri, state: 'bye' });
        const landed = await logoutVia(agent, end);
        assert.equal(landed.href, `${rp.postLogoutRedirectUri}?state=bye`);

        const [lt] = await rp.waitForLogoutTokens(1);
        const [lt2] = await rp2.waitForLogoutTokens(1);
        assert.equal(rp.logoutContentTypes[0], 'application/x-www-form-urlencoded');
        const jwks = createRemoteJWKSet(new URL(app.serverMetadata().jwks_uri!));
        const { payload, protectedHeader } = await jwtVerify(lt!, jwks, { issuer: op.issuer, audience: 'app', typ: 'logout+jwt' });
        assert.equal(protectedHeader.alg, 'ES256');
        assert.deepEqual(payload.events, { [BACKCHANNEL_LOGOUT_EVENT]: {} });
        assert.equal(payload.sid, a.claims.sid, 'the logout token names the session of the ID token');
        assert.equal(payload.sub, a.claims.sub);
        assert.equal(typeof payload.jti, 'string');
        assert.equal(typeof payload.iat, 'number');
        assert.equal(payload.nonce, undefined, 'a logout token never has a nonce');
        const second = await jwtVerify(lt2!, jwks, { issuer: op.issuer, audience: 'other', typ: 'logout+jwt' });
        assert.equal(second.payload.sid, o.claims.sid);

        // Field fault 11: the session's access tokens are dead.
        assert.deepEqual(await oidc.tokenIntrospection(app, a.tokens.access_token), { active: false });
        const ui = await userinfoStatus(a.tokens.access_token);
        assert.equal(ui.status, 401);
        assert.match(ui.challenge!, /invalid_token/);
        assert.equal((await userinfoStatus(o.tokens.access_token)).status, 401);
        // And the browser is signed out.
        const none = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        assert.equal((await agent.walk(none.url, atRp)).url.searchParams.get('error'), 'login_required');
      });

      it('offline_access tokens survive logout (documented policy); session tokens do not', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice, { scope: 'openid offline_access', prompt: 'consent' });
        const plain = await signIn(agent, postApp, rp.redirectUri, alice);
        await logoutVia(agent, oidc.buildEndSessionUrl(app, { id_token_hint: a.tokens.id_token! }));
        const refreshed = await oidc.refreshTokenGrant(app, a.tokens.refresh_token!);
        assert.equal((await oidc.tokenIntrospection(app, refreshed.access_token)).active, true);
        assert.equal((await userinfoStatus(plain.tokens.access_token)).status, 401);
      });

      it('declining keeps the session; a failing RP does not block the logout', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice);
        const hop = await agent.walk(oidc.buildEndSessionUrl(app, { id_token_hint: a.tokens.id_token! }), atRp);
        const form = formsOf(await hop.response!.text())[0]!;
        const stay = await agent.submit(hop.url, form, { logout: 'no' }, atRp);
        assert.match(await stay.response!.text(), /still signed in/);
        assert.equal((await userinfoStatus(a.tokens.access_token)).status, 200);
        assert.equal(rp.logoutTokens.length, 0);
        // A pending logout request, then a forged confirmation without (or with a wrong) CSRF token: refused.
        await (await agent.walk(oidc.buildEndSessionUrl(app, { id_token_hint: a.tokens.id_token! }), atRp)).response!.body?.cancel();
        const forged = await agent.request(`${op.issuer}/session/end/confirm`, { form: { logout: 'yes' } });
        assert.equal(forged.status, 400);
        const wrong = await agent.request(`${op.issuer}/session/end/confirm`, { form: { logout: 'yes', csrf: form.fields.csrf!.slice(1) } });
        assert.equal(wrong.status, 400);
        assert.equal((await userinfoStatus(a.tokens.access_token)).status, 200);

        rp.backchannelStatus = 500;
        const landed = await logoutVia(agent, oidc.buildEndSessionUrl(app, { id_token_hint: a.tokens.id_token! }));
        assert.equal(landed.origin, new URL(op.issuer).origin, 'no redirect requested: a signed-out page');
        await rp.waitForLogoutTokens(1);
        assert.equal((await userinfoStatus(a.tokens.access_token)).status, 401);
        assert.ok(op.logs.some((l) => /back-channel logout to client "app" answered 500/.test(l)));
      });

      it('refuses unregistered post_logout_redirect_uri and a forged id_token_hint', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice);
        const bad = oidc.buildEndSessionUrl(app, { id_token_hint: a.tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:1/evil' });
        const res = await agent.request(bad);
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('location'), null);
        const noClient = await agent.request(`${op.issuer}/session/end?post_logout_redirect_uri=${encodeURIComponent(rp.postLogoutRedirectUri)}`);
        assert.equal(noClient.status, 400);
        const forgedHint = a.tokens.id_token!.slice(0, -4) + (a.tokens.id_token!.endsWith('AAAA') ? 'BBBB' : 'AAAA');
        const forged = await agent.request(`${op.issuer}/session/end?id_token_hint=${forgedHint}`);
        assert.equal(forged.status, 400);
        assert.equal((await userinfoStatus(a.tokens.access_token)).status, 200, 'still signed in');
      });

      it('refuses a logout token (same key and issuer) as id_token_hint', async () => {
        const other = new Agent();
        const o = await signIn(other, app, rp.redirectUri, alice);
        await logoutVia(other, oidc.buildEndSessionUrl(app, { id_token_hint: o.tokens.id_token! }));
        await rp.waitForLogoutTokens(1);
        const logoutToken = rp.logoutTokens.at(-1)!;
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice);
        const res = await agent.request(oidc.buildEndSessionUrl(app, { id_token_hint: logoutToken, post_logout_redirect_uri: rp.postLogoutRedirectUri }));
        assert.equal(res.status, 400);
        assert.equal(res.headers.get('location'), null);
        assert.match(await res.text(), /id_token_hint is not an ID token issued by this provider/);
        assert.equal((await userinfoStatus(a.tokens.access_token)).status, 200, 'still signed in');
      });

      it("refuses another user's id_token_hint (public and pairwise sub), no redirect; the same user's hint from an older browser session works", async () => {
        const aliceBrowser = new Agent();
        const aliceApp = await signIn(aliceBrowser, app, rp.redirectUri, alice);
        const aliceSpa = await signIn(aliceBrowser, spa, rp.redirectUri, alice);
        const bobBrowser = new Agent();
        const bobApp = await signIn(bobBrowser, app, rp.redirectUri, bob);
        const foreign: Array<[string, URL]> = [
          ['with a redirect', oidc.buildEndSessionUrl(app, { id_token_hint: aliceApp.tokens.id_token!, post_logout_redirect_uri: rp.postLogoutRedirectUri, state: 's' })],
          ['alone', oidc.buildEndSessionUrl(app, { id_token_hint: aliceApp.tokens.id_token! })],
          ['pairwise sub', oidc.buildEndSessionUrl(spa, { id_token_hint: aliceSpa.tokens.id_token! })],
        ];
        for (const [label, url] of foreign) {
          for (const res of [await bobBrowser.request(url), await bobBrowser.request(`${op.issuer}/session/end`, { form: Object.fromEntries(url.searchParams) })]) {
            assert.equal(res.status, 400, label);
            assert.equal(res.headers.get('location'), null, 'no redirect to the hint\'s client');
            assert.match(await res.text(), /id_token_hint does not belong to the signed-in end-user/);
          }
        }
        // Nothing was parked for a confirmation, nobody was signed out, no client was told.
        const confirm = await bobBrowser.request(`${op.issuer}/session/end/confirm`, { form: { logout: 'yes' } });
        assert.equal(confirm.status, 400);
        assert.equal((await userinfoStatus(bobApp.tokens.access_token)).status, 200, 'bob still signed in');
        assert.equal((await userinfoStatus(aliceApp.tokens.access_token)).status, 200, 'alice still signed in');
        assert.equal(rp.logoutTokens.length, 0);

        // Alice in a second browser (another sid) may use the hints of her first session, pairwise too.
        const second = new Agent();
        const again = await signIn(second, app, rp.redirectUri, alice);
        assert.notEqual(again.claims.sid, aliceApp.claims.sid, 'another browser session');
        const pairwiseHint = await second.walk(oidc.buildEndSessionUrl(spa, { id_token_hint: aliceSpa.tokens.id_token! }), atRp);
        assert.equal(pairwiseHint.response?.status, 200);
        assert.ok(formsOf(await pairwiseHint.response!.text()).some((f) => f.buttons.some((b) => b.name === 'logout')), 'a confirmation form');
        const landed = await logoutVia(second, oidc.buildEndSessionUrl(app, { id_token_hint: aliceApp.tokens.id_token!, post_logout_redirect_uri: rp.postLogoutRedirectUri, state: 'bye' }));
        assert.equal(landed.href, `${rp.postLogoutRedirectUri}?state=bye`);
        assert.equal((await userinfoStatus(again.tokens.access_token)).status, 401, 'the second browser is signed out');
        assert.equal((await userinfoStatus(aliceApp.tokens.access_token)).status, 200, 'the first browser is not');
      });
    });

    describe('account page', () => {
      it('lists the applications and browser sessions; revoking an app kills its tokens and notifies it', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, bob);
        const b = await signIn(agent, postApp, rp.redirectUri, bob);
        const elsewhere = new Agent();
        await signIn(elsewhere, other, rp2.redirectUri, bob);
        const page = await agent.walk(`${op.issuer}/account`);
        assert.equal(page.response!.status, 200);
        const html = await page.response!.text();
        assert.ok(html.includes(bob.name));
        assert.match(html, /Test App/);
        assert.equal((html.match(/data-browser-session=/g) ?? []).length, 2, 'two browsers signed in');
        const forms = formsOf(html);
        const revokeApp = forms.filter((f) => f.action === '/account/grants/revoke');
        assert.equal(revokeApp.length, 3);
        // Revoke "Test App" (the row with data-client="app").
        const row = html.slice(html.indexOf('data-client="app"'));
        const appForm = formsOf(row)[0]!;
        const after = await agent.submit(page.url, appForm);
        assert.match(await after.response!.text(), /Access revoked/);
        assert.equal((await oidc.tokenIntrospection(app, a.tokens.access_token)).active, false);
        assert.equal((await oidc.tokenIntrospection(postApp, b.tokens.access_token)).active, true);
        const [lt] = await rp.waitForLogoutTokens(1);
        const { payload } = await jwtVerify(lt!, createRemoteJWKSet(new URL(app.serverMetadata().jwks_uri!)), { issuer: op.issuer, audience: 'app' });
        assert.equal(payload.sid, a.claims.sid);
      });

      it('forms need the CSRF token and only ever act on the signed-in user', async () => {
        const aliceBrowser = new Agent();
        const bobBrowser = new Agent();
        const aliceSignIn = await signIn(aliceBrowser, app, rp.redirectUri, alice);
        await signIn(bobBrowser, app, rp.redirectUri, bob);
        const alicePage = await aliceBrowser.walk(`${op.issuer}/account`);
        const aliceForm = formsOf(await alicePage.response!.text()).find((f) => f.action === '/account/grants/revoke')!;
        const bobPage = await bobBrowser.walk(`${op.issuer}/account`);
        const bobCsrf = formsOf(await bobPage.response!.text())[0]!.fields.csrf!;
        // Bob posts Alice's grant id with his own valid CSRF token: refused.
        const cross = await bobBrowser.request(`${op.issuer}/account/grants/revoke`, { form: { csrf: bobCsrf, sessionId: aliceForm.fields.sessionId! } });
        assert.equal(cross.status, 400);
        // Alice's own form without (or with Bob's) CSRF token: refused.
        const noCsrf = await aliceBrowser.request(`${op.issuer}/account/grants/revoke`, { form: { sessionId: aliceForm.fields.sessionId! } });
        assert.equal(noCsrf.status, 403);
        const wrongCsrf = await aliceBrowser.request(`${op.issuer}/account/grants/revoke`, { form: { csrf: bobCsrf, sessionId: aliceForm.fields.sessionId! } });
        assert.equal(wrongCsrf.status, 403);
        const garbage = await aliceBrowser.request(`${op.issuer}/account/grants/revoke`, { form: { csrf: aliceForm.fields.csrf!, sessionId: 'garbage' } });
        assert.equal(garbage.status, 400);
        assert.equal((await oidc.tokenIntrospection(app, aliceSignIn.tokens.access_token)).active, true);
        // Anonymous: sent to the login page.
        const anon = await new Agent().request(`${op.issuer}/account`);
        assert.equal(anon.status, 303);
        assert.equal(anon.headers.get('location'), '/login');
      });

      it('signs out another browser, and everywhere', async () => {
        const here = new Agent();
        const there = new Agent();
        await signIn(here, app, rp.redirectUri, alice);
        const t = await signIn(there, app, rp.redirectUri, alice);
        const page = await here.walk(`${op.issuer}/account`);
        const endOther = formsOf(await page.response!.text()).find((f) => f.action === '/account/browser-sessions/end')!;
        await here.submit(page.url, endOther);
        assert.equal((await userinfoStatus(t.tokens.access_token)).status, 401);
        const [lt] = await rp.waitForLogoutTokens(1);
        assert.equal((await jwtVerify(lt!, createRemoteJWKSet(new URL(app.serverMetadata().jwks_uri!)))).payload.sid, t.claims.sid);
        const none = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        assert.equal((await there.walk(none.url, atRp)).url.searchParams.get('error'), 'login_required');

        const t2 = await signIn(there, app, rp.redirectUri, alice);
        const page2 = await here.walk(`${op.issuer}/account`);
        const everywhere = formsOf(await page2.response!.text()).find((f) => f.action === '/account/logout-everywhere')!;
        const out = await here.submit(page2.url, everywhere);
        assert.match(await out.response!.text(), /signed out everywhere/);
        assert.equal((await userinfoStatus(t2.tokens.access_token)).status, 401);
        for (const agent of [here, there]) {
          const n = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
          assert.equal((await agent.walk(n.url, atRp)).url.searchParams.get('error'), 'login_required');
        }
      });
    });

    describe('field faults end to end', () => {
      it('fault 1: the pre-login session id dies at login; the attacker copy is anonymous', async () => {
        const victim = new Agent();
        const host = new URL(op.issuer).host;
        const a = await authorizationRequest(app, rp.redirectUri);
        const hop = await victim.walk(a.url, atRp); // login page; the parked request set a cookie
        const s0 = victim.cookie(host, SESSION_COOKIE)!;
        assert.ok(s0, 'a pre-login cookie');
        const attacker = new Agent();
        attacker.setCookie(host, SESSION_COOKIE, s0);
        assert.ok(await storedSession(op.sessionStore, sessionIdOfCookie(s0)), 'the pre-login record exists');
        const form = formsOf(await hop.response!.text()).find((f) => f.inputs.includes('password'))!;
        await victim.submit(hop.url, form, { username: alice.username, password: alice.password }, atRp);
        const s1 = victim.cookie(host, SESSION_COOKIE)!;
        assert.notEqual(s1, s0, 'a new session id after login');
        assert.ok(!(await storedSession(op.sessionStore, sessionIdOfCookie(s0))), 'the old record is deleted, not orphaned');
        assert.ok(await storedSession(op.sessionStore, sessionIdOfCookie(s1)));
        const none = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        assert.equal((await attacker.walk(none.url, atRp)).url.searchParams.get('error'), 'login_required');
        const account = await attacker.request(`${op.issuer}/account`);
        assert.equal(account.status, 303, 'the attacker is anonymous');
      });

      it('fault 9: refresh-token reuse revokes the grant; prompt=none is consent_required, G is gone from the lists', async () => {
        const agent = new Agent();
        const { tokens } = await signIn(agent, app, rp.redirectUri, bob, { scope: 'openid offline_access', prompt: 'consent' });
        const info = await op.manager.getSessionInfoByToken(tokens.access_token);
        const grantSessionId = info.sessionId;
        await oidc.refreshTokenGrant(app, tokens.refresh_token!);
        await expectOAuthError(oidc.refreshTokenGrant(app, tokens.refresh_token!), 'invalid_grant');
        const none = await authorizationRequest(app, rp.redirectUri, { prompt: 'none', scope: 'openid offline_access' });
        const hop = await agent.walk(none.url, atRp);
        assert.equal(hop.url.searchParams.get('error'), 'consent_required');
        assert.ok(!(await op.manager.getSidsByUserId(bob.username)).includes(grantSessionId));
        const account = await (await agent.walk(`${op.issuer}/account`)).response!.text();
        assert.doesNotMatch(account, /data-client="app"/, 'the account page does not list the revoked grant');
        // An interactive request runs consent again and yields a new, working grant.
        const again = await signIn(agent, app, rp.redirectUri, bob, { scope: 'openid offline_access' });
        const info2 = await op.manager.getSessionInfoByToken(again.tokens.access_token);
        assert.notEqual(info2.grantId, info.grantId, 'G is not resurrected');
        assert.equal((await oidc.tokenIntrospection(app, again.tokens.access_token)).active, true);
      });

      it('fault 20: a cross-site POST without the cookie gets login_required and no Set-Cookie; the session survives', async () => {
        const agent = new Agent();
        await signIn(agent, app, rp.redirectUri, alice);
        const a = await authorizationRequest(app, rp.redirectUri, { prompt: 'none' });
        // The Lax cookie is withheld on a cross-site POST: send the form without cookies.
        const res = await agent.request(`${op.issuer}/authorize`, { form: Object.fromEntries(a.url.searchParams), cookies: false });
        assert.equal(res.status, 303);
        assert.equal(new URL(res.headers.get('location')!).searchParams.get('error'), 'login_required');
        assert.equal(res.headers.getSetCookie().length, 0, 'no cookie that would overwrite the real one');
        // An interactive cross-site POST is re-issued as a GET (which carries the cookie).
        const b = await authorizationRequest(app, rp.redirectUri);
        const post = await agent.request(`${op.issuer}/authorize`, { form: Object.fromEntries(b.url.searchParams), cookies: false });
        assert.equal(post.status, 303);
        assert.equal(post.headers.getSetCookie().length, 0);
        const followed = await agent.walk(new URL(post.headers.get('location')!, op.issuer), atRp);
        assert.ok(followed.url.searchParams.get('code'), 'the GET finds the logged-in session');
        // A cross-site logout POST is not reported done for a session it could not see.
        const lo = await agent.request(`${op.issuer}/session/end`, { form: { client_id: 'app', post_logout_redirect_uri: rp.postLogoutRedirectUri, state: 'x' }, cookies: false });
        assert.equal(lo.status, 200);
        assert.equal(lo.headers.getSetCookie().length, 0);
        const html = await lo.text();
        assert.doesNotMatch(html, /You are signed out/);
        const resubmit = formsOf(html)[0]!;
        assert.equal(resubmit.fields.resubmitted, '1');
        const confirm = await agent.submit(new URL(`${op.issuer}/session/end`), resubmit);
        assert.match(await confirm.response!.text(), /Sign out\?/, 'same-site re-submission reaches the confirmation');
      });
    });

    describe('robustness: nothing a client or browser sends causes a 5xx', () => {
      it('odd inputs on every endpoint answer 4xx (or 2xx/3xx), never 5xx', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice);
        const long = 'x'.repeat(70_000);
        const cases: Array<[string, RequestInit]> = [
          ['/authorize?client_id=app&client_id=app', {}],
          ['/authorize?__proto__=x&constructor=y&client_id=__proto__', {}],
          [`/authorize?client_id=app&redirect_uri=${encodeURIComponent(rp.redirectUri)}&response_type=code&scope=openid&max_age=-1`, {}],
          [`/authorize?client_id=app&redirect_uri=${encodeURIComponent(rp.redirectUri)}&response_type=code&scope=openid&prompt=none%20login`, {}],
          [`/authorize?client_id=app&redirect_uri=${encodeURIComponent(rp.redirectUri)}&response_type=code&scope=openid&state=${'s'.repeat(5000)}`, {}],
          ['/authorize', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client_id":{"$gt":""}}' }],
          ['/authorize', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: long }],
          ['/authorize?%E0%A4%A=1', {}],
          ['/interaction/..%2F..%2Fetc', {}],
          ['/interaction/AAAAAAAAAAAAAAAAAAAAAA/login', { method: 'POST', body: new URLSearchParams({ csrf: 'x', username: 'alice', password: 'alice-pw' }) }],
          ['/interaction/%00/consent', { method: 'POST', body: 'decision=allow' }],
          ['/token', { method: 'POST' }],
          ['/token', { method: 'POST', headers: { authorization: 'Basic %%%' }, body: new URLSearchParams({ grant_type: 'authorization_code' }) }],
          ['/token', { method: 'POST', headers: { authorization: `Basic ${Buffer.from('app').toString('base64')}` }, body: 'grant_type=authorization_code' }],
          ['/token', { method: 'POST', headers: { authorization: `Basic ${Buffer.from('%E0%A4%A:%').toString('base64')}` }, body: 'grant_type=authorization_code' }],
          ['/token', { method: 'POST', headers: { ...basic('app', APP_SECRET), 'content-type': 'application/json' }, body: '{"grant_type":"authorization_code"}' }],
          ['/token', { method: 'POST', headers: basic('app', APP_SECRET), body: new URLSearchParams({ grant_type: 'authorization_code', code: long.slice(0, 4000), redirect_uri: rp.redirectUri }) }],
          ['/token', { method: 'POST', headers: basic('app', APP_SECRET), body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: a.tokens.access_token }) }],
          ['/token', { method: 'POST', headers: basic('app', APP_SECRET), body: new URLSearchParams({ grant_type: 'authorization_code', code: a.tokens.id_token!, redirect_uri: rp.redirectUri }) }],
          ['/token', { method: 'GET' }],
          ['/token/introspection', { method: 'POST', headers: basic('app', APP_SECRET), body: new URLSearchParams({ token: a.tokens.id_token! }) }],
          ['/token/introspection', { method: 'POST', headers: basic('app', APP_SECRET), body: 'token=a&token=b' }],
          ['/token/revocation', { method: 'POST', headers: basic('app', APP_SECRET), body: new URLSearchParams({ token: '\u0000\uffff' }) }],
          ['/userinfo', { headers: { authorization: 'Bearer' } }],
          ['/userinfo', { headers: { authorization: `Bearer ${a.tokens.id_token}` } }],
          ['/userinfo', { headers: { authorization: 'Basic abc' } }],
          ['/userinfo', {}],
          ['/session/end?id_token_hint=a.b.c', {}],
          [`/session/end?id_token_hint=${'e'.repeat(5000)}`, {}],
          ['/session/end?client_id=nope', {}],
          ['/session/end/confirm', { method: 'POST', body: 'logout=yes' }],
          ['/account/grants/revoke', { method: 'POST', body: 'sessionId=x' }],
          ['/static/../app.ts', {}],
          ['/static/%2e%2e/app.ts', {}],
          ['/nothing-here', {}],
        ];
        for (const [path, init] of cases) {
          const headers = new Headers(init.headers);
          if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded');
          const res = await fetch(`${op.issuer}${path}`, { ...init, headers, redirect: 'manual' });
          assert.ok(res.status < 500, `${init.method ?? 'GET'} ${path.slice(0, 80)} → ${res.status}`);
          const text = await res.text();
          assert.doesNotMatch(text, /at .*\.ts:\d+|Error: /, `no stack trace for ${path.slice(0, 80)}`);
          // The same with the logged-in browser's cookie.
          const withCookie = await agent.request(`${op.issuer}${path}`, { method: init.method ?? 'GET', headers: Object.fromEntries(headers), ...(typeof init.body === 'string' && { form: Object.fromEntries(new URLSearchParams(init.body)) }) });
          assert.ok(withCookie.status < 500, `(cookie) ${path.slice(0, 80)} → ${withCookie.status}`);
          await withCookie.body?.cancel();
        }
        assert.deepEqual(op.logs.filter((l) => l.startsWith('error')), []);
      });

      it('pages escape what they echo', async () => {
        const agent = new Agent();
        const xss = '"><script>alert(1)</script>';
        const a = await authorizationRequest(app, rp.redirectUri, { login_hint: xss });
        const hop = await agent.walk(a.url, atRp);
        const html = await hop.response!.text();
        assert.doesNotMatch(html, /<script>alert/);
        assert.match(html, /&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
        const form = formsOf(html).find((f) => f.inputs.includes('password'))!;
        const bad = await agent.submit(hop.url, form, { username: xss, password: 'x' }, atRp);
        assert.doesNotMatch(await bad.response!.text(), /<script>alert/);
      });

      it('security headers: CSP allows the registered redirect origins in form-action, nothing inline', async () => {
        const res = await fetch(`${op.issuer}/login`);
        const csp = res.headers.get('content-security-policy')!;
        const formAction = /form-action ([^;]+)/.exec(csp)![1]!.split(' ');
        assert.deepEqual(formAction.sort(), ["'self'", rp.origin, rp2.origin].sort());
        assert.match(csp, /script-src 'self'/);
        assert.match(csp, /object-src 'none'/);
        assert.doesNotMatch(csp, /upgrade-insecure-requests/, 'not on a plain-HTTP issuer');
        assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
        assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
        assert.equal(res.headers.get('x-powered-by'), null);
        await res.body?.cancel();
      });
    });

    if (options.outage) {
    describe('store outage', () => {
      it('a store outage is 503 temporarily_unavailable, and service resumes', async () => {
        const agent = new Agent();
        const a = await signIn(agent, app, rp.redirectUri, alice);
        await stores.outage!.begin();
        try {
          const ui = await fetch(`${op.issuer}/userinfo`, { headers: { authorization: `Bearer ${a.tokens.access_token}` } });
          assert.equal(ui.status, 503);
          assert.equal(((await ui.json()) as { error: string }).error, 'temporarily_unavailable');
          const page = await agent.request(`${op.issuer}/account`);
          assert.equal(page.status, 503);
          assert.match(await page.text(), /temporarily_unavailable/);
          const tok = await token({ grant_type: 'authorization_code', code: 'x'.repeat(40), redirect_uri: rp.redirectUri }, basic('app', APP_SECRET));
          assert.equal(tok.status, 503);
          assert.equal(tok.headers.get('retry-after'), '5');
          assert.equal(((await tok.json()) as { error: string }).error, 'temporarily_unavailable');
          const intro = await fetch(`${op.issuer}/token/introspection`, { method: 'POST', headers: { ...basic('app', APP_SECRET), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: a.tokens.access_token }) });
          assert.equal(intro.status, 503, 'never active:false while the store cannot tell');
          await intro.body?.cancel();
        } finally {
          await stores.outage!.end();
        }
        // Service resumes. The test server keeps nothing across the restart, so the old login and
        // tokens are gone — answered as such (401, a fresh login), not as errors.
        const ui = await userinfoStatus(a.tokens.access_token);
        assert.equal(ui.status, 401);
        const again = await signIn(agent, app, rp.redirectUri, alice);
        assert.equal((await oidc.tokenIntrospection(app, again.tokens.access_token)).active, true);
      });
    });
    }
  });
}
