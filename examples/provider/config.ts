/**
 * Configuration of the example provider from the environment (documented in README.md):
 * PORT, HOST, ISSUER, REDIS_URL, OIDC_CLIENTS_FILE, OIDC_USERS_FILE, KEYS_FILE, TRUST_PROXY,
 * plus the secrets read by `keys.ts`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface EnvConfig {
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly redisUrl?: string;
  readonly clientsFile: string;
  readonly usersFile: string;
  readonly keysFile: string;
  readonly trustProxy: boolean | number | string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** Reads the environment; every value has a working default for `npm start`. */
export function readEnv(env: NodeJS.ProcessEnv): EnvConfig {
  const portRaw = env.PORT ?? '3000';
  if (!/^\d{1,5}$/.test(portRaw) || Number(portRaw) > 65535) throw new ConfigError('PORT must be a port number');
  const port = Number(portRaw);
  const issuer = (env.ISSUER ?? `http://localhost:${port}`).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new ConfigError('ISSUER must be an absolute URL');
  }
  // OIDC Discovery §3: https, with a query or fragment never; plain http only for development.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('ISSUER must be an http(s) URL');
  if (url.search || url.hash) throw new ConfigError('ISSUER must not have a query or fragment');
  const trust = env.TRUST_PROXY;
  return {
    port,
    host: env.HOST ?? '127.0.0.1',
    issuer,
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    clientsFile: env.OIDC_CLIENTS_FILE ?? here('./clients.json'),
    usersFile: env.OIDC_USERS_FILE ?? here('./users.json'),
    keysFile: env.KEYS_FILE ?? here('./.keys.json'),
    trustProxy: trust === undefined || trust === '' ? false : trust === 'true' ? true : /^\d+$/.test(trust) ? Number(trust) : trust,
  };
}

/** Reads a JSON file, naming the file in any error. */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ConfigError(`the ${what} file ${path} is not valid JSON`);
  }
}
