/**
 * The account page: the signed-in user's browser sessions and the applications they allowed,
 * with buttons to revoke an application's access, sign out another browser, or sign out
 * everywhere. Every action is a POST form with the session's CSRF token, and every id a form
 * sends is checked to belong to the signed-in user before anything is revoked.
 */
import { Router, type Request, type Response } from 'express';
import type { LogoutNotice } from '../../../src/index.js';
import { backchannel } from '../backchannel.js';
import type { Provider } from '../context.js';
import { csrfToken, csrfValid } from '../csrf.js';
import { isCallerFault } from '../oauth-errors.js';
import { accountPage, errorPage, messagePage } from '../pages.js';
import { paramsOf } from '../params.js';

export function accountRoutes(p: Provider): Router {
  const router = Router();

  function sendPage(res: Response, status: number, body: string): void {
    res.status(status).setHeader('Cache-Control', 'no-store');
    res.type('html').send(body);
  }

  async function render(req: Request, res: Response, notice?: string): Promise<void> {
    const userId = req.oidcSessions.userId!;
    const sessions = await p.manager.listUserSessions(userId);
    sendPage(
      res,
      200,
      accountPage({
        userName: p.users.displayName(userId),
        csrf: csrfToken(req),
        currentBrowserSession: req.oidcSessions.browserSessionId,
        sessions,
        clientName: (id) => p.clients.get(id)?.client_name ?? id,
        ...(notice !== undefined && { notice }),
      }),
    );
  }

  /** Guards every account action: signed in and a valid CSRF token. */
  function guard(req: Request, res: Response): string | undefined {
    const userId = req.oidcSessions.userId;
    if (userId === undefined) {
      res.redirect(303, '/login');
      return undefined;
    }
    if (!csrfValid(req, paramsOf(req.body).csrf)) {
      sendPage(res, 403, errorPage('invalid_request', 'The form has expired. Reload the account page and try again.'));
      return undefined;
    }
    return userId;
  }

  router.get('/account', async (req, res) => {
    if (req.oidcSessions.userId === undefined) return res.redirect(303, '/login');
    await render(req, res);
  });

  router.post('/account/grants/revoke', async (req, res) => {
    const userId = guard(req, res);
    if (userId === undefined) return;
    const sessionId = paramsOf(req.body).sessionId;
    let notices: LogoutNotice[] = [];
    try {
      if (typeof sessionId !== 'string') throw new TypeError('missing');
      // The form's session id must name a grant of *this* user: never revoke someone else's.
      const path = p.manager.openSessionId(sessionId);
      if (path.userId !== userId || path.grantId === undefined) throw new TypeError('not yours');
      const info = await p.manager.getSessionInfo(sessionId, { grant: true });
      await p.manager.revokeGrant(sessionId);
      const g = info.grant!;
      // Revoking an application's access signs it out too: tell it over the back channel.
      notices = [{ clientId: g.clientId, sub: g.sub, ...(g.browserSessionId !== undefined && { sid: p.manager.sidFor(g.browserSessionId, g.clientId) }) }];
    } catch (e) {
      if (!(e instanceof TypeError) && !isCallerFault(e)) throw e;
      return sendPage(res, 400, errorPage('invalid_request', 'That access grant is unknown.'));
    }
    await backchannel(p, notices);
    await render(req, res, 'Access revoked.');
  });

  router.post('/account/browser-sessions/end', async (req, res) => {
    const userId = guard(req, res);
    if (userId === undefined) return;
    const id = paramsOf(req.body).browserSessionId;
    if (typeof id !== 'string' || id.length === 0 || id.length > 256 || id === req.oidcSessions.browserSessionId) {
      return sendPage(res, 400, errorPage('invalid_request', 'Use “Sign out” to end this browser’s session.'));
    }
    const sessions = await p.manager.listUserSessions(userId);
    if (!sessions.browserSessions.some((b) => b.id === id)) return sendPage(res, 400, errorPage('invalid_request', 'That session is unknown.'));
    await p.manager.endBrowserSession(userId, id);
    // The grants that came through that browser lose their session-bound tokens: tell their clients.
    const notices: LogoutNotice[] = [];
    for (const c of sessions.clients) {
      for (const g of c.grants) {
        if (g.active && g.grant.browserSessionId === id) notices.push({ clientId: c.clientId, sub: g.grant.sub, sid: p.manager.sidFor(id, c.clientId) });
      }
    }
    await backchannel(p, notices);
    await render(req, res, 'That browser is signed out.');
  });

  router.post('/account/logout-everywhere', async (req, res) => {
    if (guard(req, res) === undefined) return;
    const notices = await req.oidcSessions.logout({ everywhere: true });
    await backchannel(p, notices);
    sendPage(res, 200, messagePage('Signed out', 'You are signed out everywhere.'));
  });

  return router;
}
