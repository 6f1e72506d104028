/**
 * Starts the example provider on a loopback port for tests, with fresh keys and the stores
 * a test passes (memory by default).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import session from 'express-session';
import { createProviderApp, type ProviderApp, type ProviderConfig } from '../../../examples/provider/app.js';
import type { ClientRegistration } from '../../../examples/provider/clients.js';
import { generateKeys, type ProviderKeys } from '../../../examples/provider/keys.js';
import type { DemoUser } from '../../../examples/provider/users.js';

export const USERS: DemoUser[] = [
  { username: 'alice', password: 'alice-pw', claims: { name: 'Alice Adams', email: 'alice@example.com', email_verified: true, given_name: 'Alice' } },
  { username: 'bob', password: 'bob-pw', claims: { name: 'Bob Brown', email: 'bob@example.org' } },
  // Fresh accounts, so that tests sharing one provider do not see each other's grants and sessions.
  ...Array.from({ length: 300 }, (_, i) => ({ username: `user${i}`, password: `user${i}-pw`, claims: { name: `User ${i}`, email: `user${i}@example.net` } })),
];

let nextUser = 0;

/** An account no other test has used in this process. */
export function freshUser(): { username: string; password: string; name: string; email: string } {
  const i = nextUser++;
  if (i >= 300) throw new Error('out of fresh test users');
  return { username: `user${i}`, password: `user${i}-pw`, name: `User ${i}`, email: `user${i}@example.net` };
}

export interface RunningProvider extends ProviderApp {
  readonly issuer: string;
  readonly sessionStore: session.Store;
  readonly keys: ProviderKeys;
  /** Messages the provider logged (warnings, errors). */
  readonly logs: string[];
  close(): Promise<void>;
}

let sharedKeys: Promise<ProviderKeys> | undefined;

export async function startProvider(
  options: Partial<Omit<ProviderConfig, 'issuer' | 'keys'>> & { clients: readonly ClientRegistration[]; host?: 'localhost' | '127.0.0.1' },
): Promise<RunningProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${options.host ?? 'localhost'}:${port}`;
  const keys = await (sharedKeys ??= generateKeys());
  const sessionStore = options.sessionStore ?? new session.MemoryStore();
  const logs: string[] = [];
  const logger = { info: (m: string) => logs.push(`info: ${m}`), warn: (m: string) => logs.push(`warn: ${m}`), error: (m: string) => logs.push(`error: ${m}`) };
  const app = await createProviderApp({ users: USERS, logger, ...options, issuer, keys, sessionStore });
  server.on('request', app.app);
  return {
    ...app,
    issuer,
    sessionStore,
    keys,
    logs,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Reads a browser session record straight from the express-session store. */
export function storedSession(store: session.Store, sid: string): Promise<session.SessionData | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
}

/** The express-session id inside a signed cookie value (`s:<id>.<signature>`). */
export function sessionIdOfCookie(cookieValue: string): string {
  const v = decodeURIComponent(cookieValue);
  if (!v.startsWith('s:')) throw new Error('not a signed session cookie');
  return v.slice(2, v.lastIndexOf('.'));
}
