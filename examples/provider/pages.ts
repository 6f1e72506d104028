/**
 * The provider's pages: plain HTML forms that work without JavaScript. All values are escaped
 * by the `html` tag.
 */
import type { UserSessions } from '../../src/index.js';
import { hiddenInputs, html, page, type SafeHtml } from './html.js';
import { SCOPE_DESCRIPTIONS } from './context.js';

export function loginPage(o: {
  action: string;
  csrf: string;
  clientName?: string;
  username?: string;
  error?: string;
}): string {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
${o.clientName ? html`<p>to continue to <strong>${o.clientName}</strong></p>` : ''}
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form method="post" action="${o.action}">
${hiddenInputs({ csrf: o.csrf })}
<label>Username <input name="username" autocomplete="username" required autofocus value="${o.username ?? ''}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>`,
  );
}

export function consentPage(o: { action: string; csrf: string; clientName: string; userName: string; scopes: readonly string[] }): string {
  return page(
    'Allow access',
    html`<h1>Allow access?</h1>
<p><strong>${o.clientName}</strong> asks to access your account <strong>${o.userName}</strong>:</p>
<ul class="scopes">${o.scopes.map((s) => html`<li><code>${s}</code> — ${SCOPE_DESCRIPTIONS[s] ?? s}</li>`)}</ul>
<form method="post" action="${o.action}">
${hiddenInputs({ csrf: o.csrf })}
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}

export function logoutConfirmPage(o: { action: string; csrf: string; userName: string; clientName?: string }): string {
  return page(
    'Sign out',
    html`<h1>Sign out?</h1>
<p>You are signed in as <strong>${o.userName}</strong>${o.clientName ? html` and <strong>${o.clientName}</strong> asks to sign you out` : ''}.</p>
<p>Signing out ends this browser's session here and in every application you used through it.</p>
<form method="post" action="${o.action}">
${hiddenInputs({ csrf: o.csrf })}
<button type="submit" name="logout" value="yes">Sign out</button>
<button type="submit" name="logout" value="no" class="secondary">Stay signed in</button>
</form>`,
  );
}

/**
 * Shown when a logout request arrived as a cross-site POST that carried no session cookie
 * (SameSite=Lax withholds it): re-submitting from this page is same-site, so the cookie comes
 * along and the logout sees the session (field fault 20). A script submits it automatically;
 * the button works without JavaScript.
 */
export function resubmitPage(o: { action: string; fields: Readonly<Record<string, string | undefined>> }): string {
  return page(
    'Continue',
    html`<h1>Continue signing out</h1>
<form method="post" action="${o.action}" data-autosubmit>
${hiddenInputs({ ...o.fields, resubmitted: '1' })}
<button type="submit">Continue</button>
</form>`,
    { scripts: ['/static/autosubmit.js'] },
  );
}

export function messagePage(title: string, message: string | SafeHtml, extra?: SafeHtml): string {
  return page(title, html`<h1>${title}</h1><p>${message}</p>${extra ?? ''}`);
}

export function errorPage(error: string, description: string): string {
  return page('Error', html`<h1>Something went wrong</h1><p class="error"><code>${error}</code>: ${description}</p>`);
}

function when(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export interface AccountView {
  readonly userName: string;
  readonly csrf: string;
  readonly currentBrowserSession: string | undefined;
  readonly sessions: UserSessions;
  readonly clientName: (clientId: string) => string;
  readonly notice?: string;
}

/** The account page: this user's browser sessions and the applications they allowed. */
export function accountPage(v: AccountView): string {
  const csrf = hiddenInputs({ csrf: v.csrf });
  const apps = v.sessions.clients
    .map((c) => ({ ...c, grants: c.grants.filter((g) => g.active) }))
    .filter((c) => !c.revoked && c.grants.length > 0);
  return page(
    'Your account',
    html`<h1>Your account</h1>
<p>Signed in as <strong>${v.userName}</strong>. <a href="/session/end">Sign out</a></p>
${v.notice ? html`<p class="notice" role="status">${v.notice}</p>` : ''}
<h2>Browser sessions</h2>
<table class="sessions">
<thead><tr><th>Session</th><th>Signed in</th><th>Expires</th><th></th></tr></thead>
<tbody>
${v.sessions.browserSessions.map(
  (b) => html`<tr data-browser-session="${b.id}"><td>${b.id === v.currentBrowserSession ? 'This browser' : 'Another browser'}</td>
<td>${when(b.createdAt)}</td><td>${when(b.expiresAt)}</td>
<td>${
    b.id === v.currentBrowserSession
      ? ''
      : html`<form method="post" action="/account/browser-sessions/end">${csrf}${hiddenInputs({ browserSessionId: b.id })}<button type="submit">Sign out that browser</button></form>`
  }</td></tr>`,
)}
</tbody>
</table>
<form method="post" action="/account/logout-everywhere">${csrf}<button type="submit" class="secondary">Sign out everywhere</button></form>
<h2>Applications with access</h2>
${
  apps.length === 0
    ? html`<p>No application has access to your account.</p>`
    : html`<table class="grants">
<thead><tr><th>Application</th><th>Access</th><th>Since</th><th>Until</th><th></th></tr></thead>
<tbody>
${apps.map((c) =>
  c.grants.map(
    (g) => html`<tr data-client="${c.clientId}"><td>${v.clientName(c.clientId)}</td><td>${g.grant.scope.join(' ')}</td>
<td>${when(g.grant.issuedAt)}</td><td>${when(g.grant.expiresAt)}</td>
<td><form method="post" action="/account/grants/revoke">${csrf}${hiddenInputs({ sessionId: g.sessionId })}<button type="submit">Revoke</button></form></td></tr>`,
  ),
)}
</tbody>
</table>`
}`,
  );
}
