/**
 * The smallest app on oidc-sessions: express-session + `oidcSessions()`, then a login, a grant
 * with an authorization code, a token exchange, a protected resource and a logout.
 *
 *   npm run start:minimal     # http://localhost:3001
 *
 *   curl -c jar -b jar -d username=alice localhost:3001/login
 *   curl -c jar -b jar -i 'localhost:3001/authorize?redirect_uri=http://localhost:3001/cb'  # → code
 *   curl -d code=… -d redirect_uri=http://localhost:3001/cb localhost:3001/token          # → tokens
 *   curl -H 'authorization: Bearer …' localhost:3001/me
 *   curl -c jar -b jar -X POST localhost:3001/logout                                      # → whom to notify
 *
 * No passwords, no client registry, no HTML: see examples/provider for a real provider.
 */
import { pathToFileURL } from 'node:url';
import express from 'express';
import session from 'express-session';
import { SessionManager, StoreUnavailable, oidcSessions, oidcSessionsErrorHandler, sessionCookie } from '../../src/index.js';

const CLIENT_ID = 'demo';
/** The one registered redirect URI: a provider never redirects codes anywhere it was merely told to. */
const REDIRECT_URI = 'http://localhost:3001/cb';

export function createMinimalApp(manager = new SessionManager()): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(
    session({
      secret: process.env.COOKIE_SECRET ?? 'dev-only-cookie-secret-change-me',
      resave: false,
      saveUninitialized: false,
      cookie: sessionCookie(), // httpOnly, SameSite=Lax, Secure on HTTPS
    }),
  );
  app.use(oidcSessions({ manager }));

  // 1. Login: a new session id, an authentication event, the browser linked to the user.
  app.post('/login', async (req, res) => {
    // Under Express 5 req.body is undefined when the request had no form body.
    const username = typeof req.body?.username === 'string' ? req.body.username : '';
    if (!username) return res.status(400).json({ error: 'invalid_request' });
    await req.oidcSessions.login(username, { amr: ['pwd'], validFor: 3600 });
    res.json({ userId: req.oidcSessions.userId });
  });

  // 2. A grant for the client, and a code bound to it and to this browser session.
  app.get('/authorize', async (req, res) => {
    if (!req.oidcSessions.userId) return res.status(401).json({ error: 'login_required' });
    const redirectUri = req.query.redirect_uri ?? REDIRECT_URI;
    if (redirectUri !== REDIRECT_URI) return res.status(400).json({ error: 'invalid_request', error_description: 'unregistered redirect_uri' });
    const { sessionId, sid } = await req.oidcSessions.authorize({
      clientId: CLIENT_ID,
      authRequest: { client_id: CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: redirectUri },
    });
    const code = await req.oidcSessions.issueCode(sessionId, { redirectUri });
    res.setHeader('x-sid', sid);
    res.redirect(303, `${redirectUri}?code=${encodeURIComponent(code.value)}`);
  });

  // 3. The token exchange: single use, checked against the redirect URI.
  app.post('/token', async (req, res) => {
    const code = req.body?.code;
    if (typeof code !== 'string' || code === '') return res.status(400).json({ error: 'invalid_request' });
    const tokens = await req.oidcSessions.redeemCode(code, {
      clientId: CLIENT_ID,
      redirectUri: typeof req.body.redirect_uri === 'string' ? req.body.redirect_uri : '',
    });
    res.json({ access_token: tokens.accessToken.value, token_type: 'Bearer', expires_in: tokens.expiresIn, scope: tokens.scope.join(' ') });
  });

  // A protected resource: the token must be active (not revoked, not logged out, …).
  app.get('/me', async (req, res) => {
    const value = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    try {
      const info = await req.oidcSessions.validateToken(value, { tokenClass: 'access_token' });
      res.json({ userId: info.userId, sub: info.sub, scope: info.scope });
    } catch (e) {
      if (e instanceof StoreUnavailable) throw e; // → 503 from the error handler
      res.status(401).set('WWW-Authenticate', 'Bearer error="invalid_token"').json({ error: 'invalid_token' });
    }
  });

  // 4. Logout: the session's tokens die; the answer says which clients to notify.
  app.post('/logout', async (req, res) => {
    const notify = await req.oidcSessions.logout();
    res.json({ notify });
  });

  app.use(oidcSessionsErrorHandler()); // typed errors → 4xx JSON; store outage → 503
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3001);
  createMinimalApp().listen(port, '127.0.0.1', (e?: Error) => {
    // Express 5 hands a listen error (EADDRINUSE, EACCES) to this callback instead of listening.
    if (e) {
      console.error(`cannot listen on 127.0.0.1:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message} (set PORT to use another port)`);
      process.exit(1);
    }
    console.log(`minimal example on http://localhost:${port}`);
  });
}
