/**
 * Runs the example OpenID provider: `npm start`. Configuration by environment (README.md).
 */
import { createServer, type Server } from 'node:http';
import { createProviderApp } from './app.js';
import { parseClients } from './clients.js';
import { readEnv, readJsonFile } from './config.js';
import { loadKeys } from './keys.js';
import { connectRedis, type RedisStores } from './redis.js';
import { parseUsers } from './users.js';

const log = {
  info: (m: string) => console.log(`[op] ${m}`),
  warn: (m: string) => console.warn(`[op] warning: ${m}`),
  error: (m: string) => console.error(`[op] error: ${m}`),
};

async function main(): Promise<void> {
  const env = readEnv(process.env);
  const keys = await loadKeys(env.keysFile, process.env, log.info);
  const clients = parseClients(readJsonFile(env.clientsFile, 'clients'));
  const users = parseUsers(readJsonFile(env.usersFile, 'users'));
  let redis: RedisStores | undefined;
  if (env.redisUrl) redis = await connectRedis(env.redisUrl, log);
  const { app } = await createProviderApp({
    issuer: env.issuer,
    clients,
    users,
    keys,
    trustProxy: env.trustProxy,
    ...(redis && { treeStore: redis.treeStore, sessionStore: redis.sessionStore }),
    logger: log,
  });
  const cannotListen = (e: NodeJS.ErrnoException) => {
    const hint = e.code === 'EADDRINUSE' ? ' (the port is taken: stop the other server or set PORT)' : '';
    log.error(`cannot listen on ${env.host}:${env.port}: ${e.code ?? e.message}${hint}`);
    process.exit(1);
  };
  const server: Server = createServer(app).listen(env.port, env.host, () => {
    log.info(`OpenID provider ${env.issuer} listening on ${env.host}:${env.port}`);
    log.info(`store: ${redis ? 'Redis (session tree and browser sessions)' : 'in memory'}`);
    log.info(`discovery: ${env.issuer}/.well-known/openid-configuration · account: ${env.issuer}/account`);
    log.info(`clients: ${clients.map((c) => c.client_id).join(', ')} · users: ${users.map((u) => u.username).join(', ')}`);
  });
  server.on('error', cannotListen); // EADDRINUSE, EACCES: node:http reports them here, not to the callback
  const stop = () => {
    server.close();
    server.closeAllConnections();
    if (!redis) process.exit(0);
    void redis.close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: Error) => {
  log.error(`${e.name}: ${e.message}`);
  process.exit(1);
});
