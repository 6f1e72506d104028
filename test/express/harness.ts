/**
 * Real Express apps for the middleware tests: express 4 or 5, express-session on its
 * MemoryStore or on connect-redis 9 (node-redis, a private redis-server), oidcSessions() in front
 * of a small set of provider-like routes. Every test file runs its cases in all four
 * configurations through {@link forEachConfiguration}.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express5, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import express4 from 'express4';
import session, { type SessionOptions, type Store } from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient, type RedisClientType } from 'redis';
import request from 'supertest';
import { oidcSessions, oidcSessionsErrorHandler, sessionCookie } from '../../src/index.js';
import type { SessionManager } from '../../src/manager/session-manager.js';
import type { SessionStore } from '../../src/store/store.js';
import { RedisStore as TreeRedisStore } from '../../src/redis/redis-store.js';
import type { OidcSessionsOptions } from '../../src/express/types.js';
import { makeManager, TestClock } from '../conformance/harness.js';
import { startRedis, type RedisInstance } from '../helpers/redis-server.js';

export const COOKIE = 'op.sid';
export const SECRET = 'test-cookie-secret-that-is-long-enough';

export type ExpressFlavour = 'express 4' | 'express 5';
export type SessionStoreKind = 'MemoryStore' | 'connect-redis';

export interface Configuration {
  readonly flavour: ExpressFlavour;
  readonly storeKind: SessionStoreKind;
  /** Where the tree lives (unless a test passes its own store). */
  readonly treeKind: 'MemoryStore' | 'RedisStore';
  readonly name: string;
}

/**
 * express 4 and 5 × browser sessions in express-session's MemoryStore and in connect-redis,
 * with the tree in memory; plus the all-Redis production setup (tree in RedisStore, browser
 * sessions in connect-redis, one redis-server) on express 5.
 */
export const CONFIGURATIONS: readonly Configuration[] = [
  ...(['express 5', 'express 4'] as const).flatMap((flavour) =>
    (['MemoryStore', 'connect-redis'] as const).map((storeKind) => ({ flavour, storeKind, treeKind: 'MemoryStore' as const, name: `${flavour}, ${storeKind}` })),
  ),
  { flavour: 'express 5', storeKind: 'connect-redis', treeKind: 'RedisStore', name: 'express 5, connect-redis, tree in RedisStore' },
];

export function expressOf(flavour: ExpressFlavour): typeof express5 {
  return flavour === 'express 4' ? express4 : express5;
}

/** One redis-server per test file; started lazily, only for connect-redis configurations. */
export class RedisForFile {
  #instance: RedisInstance | undefined;
  #clients: RedisClientType[] = [];
  #prefix = 0;

  async store(): Promise<{ store: RedisStore; client: RedisClientType; prefix: string }> {
    const client = await this.#client();
    const prefix = `sess${++this.#prefix}:`;
    return { store: new RedisStore({ client, prefix }), client, prefix };
  }

  /** A RedisStore for the tree, on its own key prefix. */
  async treeStore(): Promise<TreeRedisStore> {
    return new TreeRedisStore({ client: await this.#client(), prefix: `tree${++this.#prefix}:` });
  }

  async #client(): Promise<RedisClientType> {
    this.#instance ??= await startRedis();
    // As the RedisStore README recommends: fail fast while disconnected, keep reconnecting.
    const client = createClient({ url: this.#instance.url, disableOfflineQueue: true, socket: { reconnectStrategy: () => 50, connectTimeout: 500 } }) as RedisClientType;
    client.on('error', () => {}); // outages are expected in some tests; commands report them
    await client.connect();
    this.#clients.push(client);
    return client;
  }

  get instance(): RedisInstance | undefined {
    return this.#instance;
  }

  async stop(): Promise<void> {
    for (const c of this.#clients) await c.close().catch(() => undefined);
    this.#clients = [];
    await this.#instance?.stop();
    this.#instance = undefined;
  }
}

export interface AppOptions {
  readonly middleware?: Partial<OidcSessionsOptions>;
  readonly session?: Partial<SessionOptions>;
  /** Extra routes, mounted before the standard ones. */
  readonly routes?: (app: Express) => void;
  /** The tree's store (default: a new MemoryStore). */
  readonly treeStore?: SessionStore;
  /** Wraps the express-session store (instrumentation). */
  readonly wrapSessionStore?: (store: Store) => Store;
  /** Mount order: false leaves express-session out entirely. */
  readonly withSession?: boolean;
  /** Manager and middleware on the wall clock (tests that need express-session's own expiry). */
  readonly realClock?: boolean;
  /** Express `trust proxy` (HTTPS tests send X-Forwarded-Proto). */
  readonly trustProxy?: boolean;
}

export interface TestApp {
  readonly app: Express;
  readonly manager: SessionManager;
  readonly clock: TestClock;
  readonly sessionStore: Store;
  readonly redis?: { client: RedisClientType; prefix: string };
  readonly url: string;
  readonly errors: unknown[];
  readonly gates: Gates;
  agent(): request.Agent;
  /** The raw express-session record for a session id, straight from the store. */
  storedSession(id: string): Promise<Record<string, unknown> | null>;
  close(): Promise<void>;
}

/** Async route handlers for express 4, which does not catch rejected promises. */
export function h(fn: (req: Request, res: Response) => Promise<unknown> | unknown): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve()
      .then(() => fn(req, res))
      .catch(next);
  };
}

/**
 * Gates make request interleavings deterministic: a route calls `pass(name)` (announces that it
 * got there, then waits); the test awaits `arrived(name)`, does what must happen meanwhile, and
 * `open(name)`s the gate. No sleeps, so no timing-dependent outcomes on a busy machine.
 */
export class Gates {
  readonly #gates = new Map<string, { arrived: () => void; arrivedP: Promise<void>; open: () => void; openP: Promise<void> }>();

  #gate(name: string) {
    let g = this.#gates.get(name);
    if (!g) {
      let arrived!: () => void;
      let open!: () => void;
      const arrivedP = new Promise<void>((r) => (arrived = r));
      const openP = new Promise<void>((r) => (open = r));
      g = { arrived, arrivedP, open, openP };
      this.#gates.set(name, g);
    }
    return g;
  }

  async pass(name: string): Promise<void> {
    const g = this.#gate(name);
    g.arrived();
    await g.openP;
  }

  arrived(name: string): Promise<void> {
    return this.#gate(name).arrivedP;
  }

  open(name: string): void {
    this.#gate(name).open();
  }
}

/** Sends a supertest request now (they are lazy until awaited) and returns its response promise. */
export function start(test: request.Test): Promise<request.Response> {
  return test.then((r) => r);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A provider-like app: login, authorize, token, logout, account listing, and probes. */
export async function buildApp(cfg: Configuration, redis: RedisForFile, options: AppOptions = {}): Promise<TestApp> {
  const clock = new TestClock();
  clock.now = Date.now();
  if (options.realClock) Object.defineProperty(clock, 'read', { value: () => Date.now() });
  const treeStore = options.treeStore ?? (cfg.treeKind === 'RedisStore' ? await redis.treeStore() : undefined);
  const manager = makeManager(treeStore, clock);
  const express = expressOf(cfg.flavour);
  const app = express();
  if (options.trustProxy) app.set('trust proxy', true);
  let sessionStore: Store;
  let redisInfo: { client: RedisClientType; prefix: string } | undefined;
  if (cfg.storeKind === 'connect-redis') {
    const r = await redis.store();
    sessionStore = r.store;
    redisInfo = { client: r.client, prefix: r.prefix };
  } else {
    sessionStore = new session.MemoryStore();
  }
  const mounted = options.wrapSessionStore ? options.wrapSessionStore(sessionStore) : sessionStore;
  const errors: unknown[] = [];
  if (options.withSession !== false) {
    app.use(
      session({
        name: COOKIE,
        secret: SECRET,
        store: mounted,
        resave: false,
        saveUninitialized: false,
        cookie: sessionCookie({ maxAge: 3_600_000 }),
        ...options.session,
      }),
    );
  }
  app.use(oidcSessions({ manager, clock: clock.read, ...options.middleware }));
  app.use(express.json());
  options.routes?.(app);
  const gates = new Gates();
  mountStandardRoutes(app, gates);
  app.use(oidcSessionsErrorHandler({ log: (_m, e) => errors.push(e) }));

  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    app,
    manager,
    clock,
    sessionStore,
    ...(redisInfo && { redis: redisInfo }),
    url,
    errors,
    gates,
    agent: () => request.agent(url),
    storedSession: (id) =>
      new Promise((resolve, reject) =>
        sessionStore.get(id, (err, s) => (err ? reject(err) : resolve((s as unknown as Record<string, unknown>) ?? null))),
      ),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function mountStandardRoutes(app: Express, gates: Gates): void {
  app.get('/whoami', (req, res) => {
    const o = req.oidcSessions;
    res.json({ userId: o.userId ?? null, browserSessionId: o.browserSessionId ?? null, authnEvent: o.authnEvent ?? null, clients: o.clients });
  });
  app.post(
    '/login',
    h(async (req, res) => {
      const b = req.body as { userId: string; acr?: string; amr?: string[]; validFor?: number; carry?: string[] };
      const notices = await req.oidcSessions.login(b.userId, {
        ...(b.acr !== undefined && { authnInfo: b.acr }),
        ...(b.amr !== undefined && { amr: b.amr }),
        ...(b.validFor !== undefined && { validFor: b.validFor }),
        ...(b.carry !== undefined && { carry: b.carry }),
      });
      res.json({ ok: true, notices, session: Object.keys(req.session).filter((k) => k !== 'cookie') });
    }),
  );
  // GET or POST /authorize: the authorization endpoint, reduced to what the session layer decides.
  const authorize = h(async (req, res) => {
    const q = { ...(req.method === 'GET' ? req.query : req.body) } as Record<string, string>;
    const o = req.oidcSessions;
    if (!o.userId) {
      if (q.prompt === 'none') return res.status(400).json({ error: 'login_required' });
      (req.session as unknown as Record<string, unknown>).pending = q; // resumed after login
      return res.json({ interaction: 'login' });
    }
    if (q.prompt === 'none') {
      const existing = await o.manager.getGrantByResponseType(o.userId, q.client_id!, q.response_type ?? 'code');
      if (!existing) return res.status(400).json({ error: 'consent_required' });
    }
    if (q.gate !== undefined) await gates.pass(q.gate); // the session is loaded and checked: hold here
    const { sessionId, sid, grant, reused } = await o.authorize({ clientId: q.client_id!, authRequest: q });
    const code = await o.issueCode(sessionId, { ...(q.redirect_uri !== undefined && { redirectUri: q.redirect_uri }) });
    res.json({ code: code.value, sessionId, sid, grantId: grant.id, reused });
  });
  app.get('/authorize', authorize);
  app.post('/authorize', authorize);
  app.post(
    '/token',
    h(async (req, res) => {
      const b = req.body as { code: string; client_id: string; redirect_uri?: string };
      const t = await req.oidcSessions.redeemCode(b.code, { clientId: b.client_id, ...(b.redirect_uri && { redirectUri: b.redirect_uri }) });
      res.json({ access_token: t.accessToken.value, refresh_token: t.refreshToken?.value, scope: t.scope.join(' ') });
    }),
  );
  app.post(
    '/refresh',
    h(async (req, res) => {
      const b = req.body as { refresh_token: string; client_id: string };
      const t = await req.oidcSessions.refresh(b.refresh_token, { clientId: b.client_id });
      res.json({ access_token: t.accessToken.value, refresh_token: t.refreshToken?.value });
    }),
  );
  app.post(
    '/introspect',
    h(async (req, res) => res.json(await req.oidcSessions.introspect((req.body as { token: string }).token))),
  );
  app.post(
    '/logout',
    h(async (req, res) => {
      const b = req.body as { everywhere?: boolean; keepOffline?: boolean };
      const seen = req.oidcSessions.userId !== undefined;
      const notices = await req.oidcSessions.logout({ ...(b.everywhere !== undefined && { everywhere: b.everywhere }), ...(b.keepOffline !== undefined && { keepOffline: b.keepOffline }) });
      res.json({ seen, notices });
    }),
  );
  app.get(
    '/sessions',
    h(async (req, res) => res.json((await req.oidcSessions.listSessions()) ?? null)),
  );
  // A slow request: loads the session, waits at its gate, then changes the app's part of it.
  app.get(
    '/slow',
    h(async (req, res) => {
      const before = req.oidcSessions.userId ?? null;
      await gates.pass(String(req.query.gate));
      const s = req.session as unknown as Record<string, unknown>;
      s.visits = Number(s.visits ?? 0) + 1;
      res.json({ before });
    }),
  );
  app.post(
    '/app-data',
    h(async (req, res) => {
      Object.assign(req.session, req.body);
      res.json({ ok: true });
    }),
  );
}

/** The session id inside a signed `op.sid` cookie of a response, or undefined. */
export function sessionIdFrom(res: request.Response): string | undefined {
  const cookie = setCookie(res).find((c) => c.startsWith(`${COOKIE}=`));
  if (!cookie) return undefined;
  const value = decodeURIComponent(cookie.slice(COOKIE.length + 1).split(';')[0]!);
  assert.ok(value.startsWith('s:'), 'signed cookie');
  return value.slice(2, value.lastIndexOf('.'));
}

/** The raw `op.sid=…` pair of a response's Set-Cookie, for replay in another jar. */
export function cookiePair(res: request.Response): string | undefined {
  return setCookie(res).find((c) => c.startsWith(`${COOKIE}=`))?.split(';')[0];
}

export function setCookie(res: request.Response): string[] {
  const v = res.headers['set-cookie'] as string | string[] | undefined;
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Logs `userId` in with a fresh agent; returns the agent and the login response. */
export async function loggedIn(t: TestApp, userId = 'alice', extra: Record<string, unknown> = {}) {
  const agent = t.agent();
  const res = await agent.post('/login').send({ userId, ...extra }).expect(200);
  return { agent, res };
}

/**
 * Runs `body` once per configuration, inside a describe that owns the file's redis-server.
 * (Top-level hooks would be root hooks for every file; this keeps them scoped.)
 */
export function forEachConfiguration(title: string, body: (cfg: Configuration, ctx: { redis: RedisForFile }) => void): void {
  describe(title, function () {
    const ctx = { redis: new RedisForFile() };
    after(async () => ctx.redis.stop());
    for (const cfg of CONFIGURATIONS) {
      describe(cfg.name, function () {
        body(cfg, ctx);
      });
    }
  });
}
