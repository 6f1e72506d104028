/**
 * `createProviderApp(config)`: an OpenID Provider on Express built on oidc-sessions.
 *
 *   token, userinfo,  ┐ JSON APIs (api.ts): no cookies, no express-session, answered on
 *   introspection,    │ node:http before Express sees them
 *   revocation       ─┘
 *   discovery + JWKS    Express, no browser session
 *   express-session → oidcSessions() → authorize, login, consent, logout, account (HTML forms)
 *
 * The library keeps the session tree (grants, tokens, browser sessions); this app adds what
 * an OP needs around it: client registry and authentication, users, pages, and the wire
 * formats of OAuth 2.0 and OpenID Connect.
 */
import type { webcrypto } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import express, { type ErrorRequestHandler, type Express } from 'express';
import session from 'express-session';
import helmet from 'helmet';
import { importJWK } from 'jose';
import {
  SessionManager,
  oidcSessions,
  sessionCookie,
  type SessionManagerOptions,
  type SessionStore,
} from '../../src/index.js';
import { apiResponder, type NodeMiddleware } from './api.js';
import { ClientRegistry, parseClients, redirectSources, type ClientRegistration } from './clients.js';
import { endpointsFor, type Provider, type ProviderLogger } from './context.js';
import type { ProviderKeys } from './keys.js';
import { toOAuthError } from './oauth-errors.js';
import { errorPage } from './pages.js';
import { accountRoutes } from './routes/account.js';
import { authorizeRoutes } from './routes/authorize.js';
import { discoveryRoutes } from './routes/discovery.js';
import { logoutRoutes } from './routes/logout.js';
import { tokenManagementEndpoints } from './routes/token-management.js';
import { tokenEndpoints } from './routes/token.js';
import { userinfoEndpoints } from './routes/userinfo.js';
import { UserDirectory, parseUsers, type DemoUser } from './users.js';

export interface ProviderConfig {
  /** The issuer URL (no trailing slash); also the base of every endpoint. */
  readonly issuer: string;
  readonly clients: readonly ClientRegistration[];
  readonly users: readonly DemoUser[];
  readonly keys: ProviderKeys;
  /** Where the session tree lives (default: the library's MemoryStore). */
  readonly treeStore?: SessionStore;
  /** Where express-session keeps browser sessions (default: express-session's MemoryStore). */
  readonly sessionStore?: session.Store;
  /** Express `trust proxy` (set it behind a TLS-terminating proxy so `Secure` cookies work). */
  readonly trustProxy?: boolean | number | string;
  /** Seconds a login may be relied on; also the cookie's lifetime (default 8 hours). */
  readonly loginLifetime?: number;
  /** Back-channel logout delivery timeout (default 5000 ms). */
  readonly backchannelTimeoutMs?: number;
  /** Token lifetimes, refresh and reuse policies, clock (tests). */
  readonly managerOptions?: Pick<SessionManagerOptions, 'tokenPolicies' | 'grantLifetime' | 'refresh' | 'reusePolicy' | 'clock'>;
  readonly logger?: ProviderLogger;
}

export interface ProviderApp {
  /**
   * The provider's request listener for a node:http server (`createServer(app)`): the JSON APIs
   * are answered directly (api.ts), every other request goes to `express`.
   */
  readonly app: (req: IncomingMessage, res: ServerResponse) => void;
  /** The Express app behind `app`: pages, discovery, static files. */
  readonly express: Express;
  readonly manager: SessionManager;
  readonly provider: Provider;
}

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
export const SESSION_COOKIE = 'op.sid';

/**
 * The path of an origin-form request target (`/path?query`) exactly as Express's `req.path`
 * would give it, or undefined for anything less plain — another form, or characters that make
 * Express's URL parser take its slow, lenient road — which Express then handles itself.
 */
function plainPath(url: string | undefined): string | undefined {
  if (url === undefined || url.charCodeAt(0) !== 0x2f /* / */) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return /[\s#\u00a0\ufeff]/.test(url) ? undefined : path;
}

export async function createProviderApp(config: ProviderConfig): Promise<ProviderApp> {
  const issuer = config.issuer.replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  const https = issuerUrl.protocol === 'https:';
  const clients = new ClientRegistry(parseClients(config.clients));
  const users = new UserDirectory(parseUsers(config.users));
  const log = config.logger ?? console;
  const { d: _private, ...publicJwk } = config.keys.signingKey;
  const privateKey = (await importJWK(config.keys.signingKey, 'ES256')) as webcrypto.CryptoKey;
  const publicKey = (await importJWK({ ...publicJwk, key_ops: undefined, ext: true }, 'ES256')) as webcrypto.CryptoKey;
  const kid = config.keys.signingKey.kid!;
  const manager = new SessionManager({
    ...config.managerOptions,
    ...(config.treeStore && { store: config.treeStore }),
    secrets: { sessionIdKeys: config.keys.sessionIdKeys, subjectSalt: config.keys.subjectSalt },
    jwt: { issuer, privateKey, alg: 'ES256', kid },
    logger: log,
  });
  const loginLifetime = config.loginLifetime ?? 8 * 3600;
  const provider: Provider = {
    issuer,
    endpoints: endpointsFor(issuer),
    clients,
    users,
    manager,
    signer: { issuer, privateKey, publicKey, kid },
    publicJwk: Object.freeze({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y, kid, alg: 'ES256', use: 'sig' }),
    now: config.managerOptions?.clock ?? Date.now,
    log,
    loginLifetime,
    backchannelTimeoutMs: config.backchannelTimeoutMs ?? 5000,
  };

  const app = express();
  app.set('trust proxy', config.trustProxy ?? false);
  // Every response of this app is dynamic and nearly all are no-store: an ETag (a SHA-1 of each
  // body, computed by res.send) buys nothing and costs every request.
  app.set('etag', false);
  app.disable('x-powered-by');
  const form = express.urlencoded({ extended: false, limit: '64kb', parameterLimit: 64 });

  // JSON APIs first: they serve no pages and use no browser session, so the page machinery below
  // (helmet's page policies, static files, express-session) is not theirs to pay for; they get
  // the headers that matter for a JSON response (RFC 6749 §5.1 no-store is set by each route).
  // The listener returned below sends them here before Express; this is for the requests whose
  // target it leaves to Express's parser.
  const api = apiResponder(
    { ...tokenEndpoints(provider), ...tokenManagementEndpoints(provider), ...userinfoEndpoints(provider) },
    form as NodeMiddleware,
    log,
  );
  app.use((req, res, next) => {
    if (!api.serveApi(req.path, req, res)) next();
  });

  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          // Forms on our pages end in redirects to the clients (code, post-logout): browsers
          // apply form-action to every redirect after a submission, so the registered redirect
          // origins must be allowed, and nothing else.
          'form-action': ["'self'", ...redirectSources(clients.all())],
          // On plain-HTTP development issuers, upgrading would send forms to https://localhost.
          'upgrade-insecure-requests': https ? [] : null,
        },
      },
      strictTransportSecurity: https,
    }),
  );
  app.use('/static', express.static(STATIC_DIR, { index: false, fallthrough: false, maxAge: '1h' }));

  // Metadata: no browser session involved.
  app.use(discoveryRoutes(provider));

  // Browser side: the session cookie, then the middleware that keeps it in step with the tree.
  app.use(
    session({
      name: SESSION_COOKIE,
      secret: [...config.keys.cookieSecrets],
      resave: false,
      // No cookie for visitors who have nothing in their session (field fault 20).
      saveUninitialized: false,
      ...(config.sessionStore && { store: config.sessionStore }),
      // httpOnly, SameSite=Lax (kept on the top-level redirects of the code flow), Secure on HTTPS.
      cookie: sessionCookie({ maxAge: loginLifetime * 1000, ...(https && { secure: true }) }),
    }),
  );
  app.use(oidcSessions({ manager, loginLifetime, ...(config.managerOptions?.clock && { clock: config.managerOptions.clock }) }));
  app.get('/', (_req, res) => res.redirect(303, '/account'));
  app.use(form, authorizeRoutes(provider), logoutRoutes(provider), accountRoutes(provider));

  app.use((_req, res) => {
    res.status(404).type('html').send(errorPage('not_found', 'There is nothing here.'));
  });
  app.use(errorHandler(log));

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const path = plainPath(req.url);
    if (path === undefined || !api.serveApi(path, req, res)) app(req, res);
  };
  return { app: listener, express: app, manager, provider };
}

/**
 * Last stop for errors of the pages (the JSON APIs answer their own, api.ts): the error's OAuth
 * meaning (`toOAuthError`) as an HTML page.
 */
function errorHandler(log: ProviderLogger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const oauth = toOAuthError(err, `${req.method} ${req.path}`, log);
    res.status(oauth.status);
    for (const [k, v] of Object.entries(oauth.headers)) if (k !== 'WWW-Authenticate') res.setHeader(k, v);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(errorPage(oauth.error, oauth.description));
  };
}
