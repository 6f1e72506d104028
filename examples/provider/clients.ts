/**
 * Registered clients (relying parties): validation of their metadata (OpenID Connect Dynamic
 * Client Registration 1.0 §2 names, loaded from a JSON file) and client authentication at the
 * token, introspection and revocation endpoints (RFC 6749 §2.3, OIDC Core §9).
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { sectorIdentifierOf } from '../../src/index.js';
import { repeatsAuthorization } from './headers.js';
import { OAuthError } from './oauth-errors.js';
import { optionalParam, paramsOf } from './params.js';

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** A client registration, with defaults applied. */
export interface ClientMetadata {
  readonly client_id: string;
  readonly client_secret?: string;
  readonly client_name?: string;
  readonly redirect_uris: readonly string[];
  readonly post_logout_redirect_uris: readonly string[];
  readonly grant_types: readonly string[];
  readonly response_types: readonly string[];
  readonly token_endpoint_auth_method: TokenEndpointAuthMethod;
  readonly backchannel_logout_uri?: string;
  readonly backchannel_logout_session_required: boolean;
  readonly subject_type: 'public' | 'pairwise';
  readonly sector_identifier_uri?: string;
}

/** A registration as written in the clients file: only `client_id` and `redirect_uris` are required. */
export type ClientRegistration = Pick<ClientMetadata, 'client_id' | 'redirect_uris'> &
  Partial<Omit<ClientMetadata, 'client_id' | 'redirect_uris'>>;

const AUTH_METHODS: readonly TokenEndpointAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'none'];
const GRANT_TYPES = ['authorization_code', 'refresh_token'];
const MIN_SECRET_LENGTH = 16;

/** A configuration mistake in the clients file; the message names the client and field. */
export class ClientConfigError extends Error {
  override name = 'ClientConfigError';
}

function str(v: unknown, where: string, max = 2048): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ClientConfigError(`${where} must be a non-empty string`);
  return v;
}

function optStr(v: unknown, where: string): string | undefined {
  return v === undefined ? undefined : str(v, where);
}

function strList(v: unknown, where: string, fallback?: readonly string[]): string[] {
  if (v === undefined && fallback) return [...fallback];
  if (!Array.isArray(v)) throw new ClientConfigError(`${where} must be an array of strings`);
  return v.map((x, i) => str(x, `${where}[${i}]`));
}

/** An absolute URI without a fragment (OIDC Registration §2: redirect_uris). */
function uri(v: string, where: string, httpOnly = false): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ClientConfigError(`${where} is not an absolute URI`);
  }
  if (u.hash) throw new ClientConfigError(`${where} must not have a fragment`);
  if (httpOnly && u.protocol !== 'https:' && u.protocol !== 'http:') throw new ClientConfigError(`${where} must be http(s)`);
  if (/[\s;,]/.test(v)) throw new ClientConfigError(`${where} must not contain spaces, ";" or ","`);
  return v;
}

/** Validates one registration and applies the registration defaults. */
export function parseClient(input: unknown, index: number): ClientMetadata {
  const where = `clients[${index}]`;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ClientConfigError(`${where} must be an object`);
  const c = input as Record<string, unknown>;
  const get = (k: string) => (Object.hasOwn(c, k) ? c[k] : undefined);
  const client_id = str(get('client_id'), `${where}.client_id`, 256);
  const at = `client ${JSON.stringify(client_id)}`;
  const method = (get('token_endpoint_auth_method') ?? 'client_secret_basic') as TokenEndpointAuthMethod;
  if (!AUTH_METHODS.includes(method)) throw new ClientConfigError(`${at}: token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  const client_secret = optStr(get('client_secret'), `${at}.client_secret`);
  if (method !== 'none' && (client_secret === undefined || client_secret.length < MIN_SECRET_LENGTH)) {
    throw new ClientConfigError(`${at}: a confidential client needs a client_secret of at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (method === 'none' && client_secret !== undefined) throw new ClientConfigError(`${at}: a public client (auth method none) has no client_secret`);
  const redirect_uris = strList(get('redirect_uris'), `${at}.redirect_uris`).map((u, i) => uri(u, `${at}.redirect_uris[${i}]`));
  if (redirect_uris.length === 0) throw new ClientConfigError(`${at}: redirect_uris must not be empty`);
  const post_logout_redirect_uris = strList(get('post_logout_redirect_uris'), `${at}.post_logout_redirect_uris`, []).map((u, i) =>
    uri(u, `${at}.post_logout_redirect_uris[${i}]`),
  );
  const grant_types = strList(get('grant_types'), `${at}.grant_types`, ['authorization_code']);
  for (const g of grant_types) if (!GRANT_TYPES.includes(g)) throw new ClientConfigError(`${at}: grant type ${g} is not supported`);
  const response_types = strList(get('response_types'), `${at}.response_types`, ['code']);
  for (const r of response_types) if (r !== 'code') throw new ClientConfigError(`${at}: response type ${r} is not supported (code only)`);
  const bc = optStr(get('backchannel_logout_uri'), `${at}.backchannel_logout_uri`);
  const sessionRequired = get('backchannel_logout_session_required') ?? false;
  if (typeof sessionRequired !== 'boolean') throw new ClientConfigError(`${at}.backchannel_logout_session_required must be a boolean`);
  const subject_type = get('subject_type') ?? 'public';
  if (subject_type !== 'public' && subject_type !== 'pairwise') throw new ClientConfigError(`${at}.subject_type must be public or pairwise`);
  const sector = optStr(get('sector_identifier_uri'), `${at}.sector_identifier_uri`);
  if (sector !== undefined) uri(sector, `${at}.sector_identifier_uri`, true);
  if (subject_type === 'pairwise' && sector === undefined && new Set(redirect_uris.map((u) => new URL(u).host)).size > 1) {
    // OIDC Core §8.1: without a sector identifier, all redirect URIs must share one host.
    throw new ClientConfigError(`${at}: pairwise with redirect URIs on several hosts needs a sector_identifier_uri`);
  }
  const name = optStr(get('client_name'), `${at}.client_name`);
  return Object.freeze({
    client_id,
    ...(client_secret !== undefined && { client_secret }),
    ...(name !== undefined && { client_name: name }),
    redirect_uris: Object.freeze(redirect_uris),
    post_logout_redirect_uris: Object.freeze(post_logout_redirect_uris),
    grant_types: Object.freeze(grant_types),
    response_types: Object.freeze(response_types),
    token_endpoint_auth_method: method,
    ...(bc !== undefined && { backchannel_logout_uri: uri(bc, `${at}.backchannel_logout_uri`, true) }),
    backchannel_logout_session_required: sessionRequired,
    subject_type,
    ...(sector !== undefined && { sector_identifier_uri: sector }),
  });
}

/** Validates a whole clients file (a JSON array of registrations). */
export function parseClients(input: unknown): ClientMetadata[] {
  if (!Array.isArray(input)) throw new ClientConfigError('the clients file must hold a JSON array of client registrations');
  const clients = input.map((c, i) => parseClient(c, i));
  const seen = new Set<string>();
  for (const c of clients) {
    if (seen.has(c.client_id)) throw new ClientConfigError(`client_id ${JSON.stringify(c.client_id)} is registered twice`);
    seen.add(c.client_id);
  }
  return clients;
}

/**
 * Compares a presented secret with the registered one without revealing, through timing, how
 * much of it matched or how long it is: both sides are hashed to equal-length digests first.
 * (The library's own constant-time helper is internal, so the example keeps this one.)
 */
export function secretsEqual(presented: string, registered: string): boolean {
  return digestMatches(presented, { digest: sha256(registered), length: registered.length });
}

/** A registered secret kept as its digest and length: hashed once, not at every request. */
interface SecretDigest {
  readonly digest: Buffer;
  readonly length: number;
}

const sha256 = (s: string): Buffer => hash('sha256', s, 'buffer');

function digestMatches(presented: string, registered: SecretDigest): boolean {
  return timingSafeEqual(sha256(presented), registered.digest) && presented.length === registered.length;
}

/** Compared against when the client is unknown, so unknown ids cost the same as a real comparison. */
const NO_SECRET: SecretDigest = { digest: sha256('\u0000no such client'), length: MIN_SECRET_LENGTH };

/** RFC 6749 §2.3.1: client id and secret in Basic are form-urlencoded before base64. */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The registered clients, by id (a Map: no prototype keys). */
export class ClientRegistry {
  readonly #clients: ReadonlyMap<string, ClientMetadata>;
  readonly #secrets: ReadonlyMap<string, SecretDigest>;

  constructor(clients: readonly ClientMetadata[]) {
    this.#clients = new Map(clients.map((c) => [c.client_id, c]));
    this.#secrets = new Map(
      clients.filter((c) => c.client_secret !== undefined).map((c) => [c.client_id, { digest: sha256(c.client_secret!), length: c.client_secret!.length }]),
    );
  }

  get(clientId: string | undefined): ClientMetadata | undefined {
    return clientId === undefined ? undefined : this.#clients.get(clientId);
  }

  all(): ClientMetadata[] {
    return [...this.#clients.values()];
  }

  /**
   * Authenticates the client of a token / introspection / revocation request by the method it
   * registered. Every failure is 401 `invalid_client` with a `WWW-Authenticate` challenge
   * (RFC 6749 §5.2), whatever went wrong, so that nothing tells which part was wrong.
   * A request that presents its credentials more than one way — two Authorization headers,
   * Basic and a client_secret in the body, a body client_id other than Basic's — is malformed
   * instead: 400 `invalid_request`, before any secret is compared.
   */
  authenticate(
    req: { readonly body?: unknown; readonly headers: IncomingHttpHeaders; readonly rawHeaders: readonly string[] },
    realm: string,
  ): ClientMetadata {
    const challenge = { 'WWW-Authenticate': `Basic realm="${realm.replace(/["\\]/g, '')}", charset="UTF-8"` };
    const fail = (why: string) => new OAuthError('invalid_client', why, 401, challenge);
    // Two Authorization headers are two sets of credentials; `req.headers` would show only the first.
    if (repeatsAuthorization(req.rawHeaders)) throw new OAuthError('invalid_request', 'send one Authorization header, not several');
    const body = paramsOf(req.body);
    const header = req.headers.authorization;
    const bodyId = optionalParam(body, 'client_id', 256);
    const bodySecret = optionalParam(body, 'client_secret', 1024);
    let method: TokenEndpointAuthMethod;
    let clientId: string | undefined;
    let secret: string | undefined;
    if (typeof header === 'string' && /^basic /i.test(header)) {
      // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
      if (bodySecret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method: Basic or client_secret in the body, not both');
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw fail('malformed Basic credentials');
      clientId = formDecode(decoded.slice(0, colon));
      secret = formDecode(decoded.slice(colon + 1));
      if (bodyId !== undefined && bodyId !== clientId) throw new OAuthError('invalid_request', 'client_id does not match the credentials');
      method = 'client_secret_basic';
    } else if (bodySecret !== undefined) {
      clientId = bodyId;
      secret = bodySecret;
      method = 'client_secret_post';
    } else {
      clientId = bodyId;
      method = 'none';
    }
    const client = this.get(clientId);
    if (!client) {
      // Spend the same work as a real comparison, so unknown ids are not told apart by timing.
      digestMatches(secret ?? '', NO_SECRET);
      throw fail('client authentication failed');
    }
    if (client.token_endpoint_auth_method !== method) throw fail('client authentication failed');
    if (method !== 'none' && !digestMatches(secret ?? '', this.#secrets.get(client.client_id)!)) throw fail('client authentication failed');
    return client;
  }
}

/** Origins a browser may be sent to after a form on our pages (CSP `form-action`). */
export function redirectSources(clients: readonly ClientMetadata[]): string[] {
  const sources = new Set<string>();
  for (const c of clients) {
    for (const u of [...c.redirect_uris, ...c.post_logout_redirect_uris]) {
      const url = new URL(u);
      // http(s) → the origin; a native app's private-use scheme → a scheme source ("com.example:").
      sources.add(url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol);
    }
  }
  return [...sources];
}

/**
 * How this client's `sub` is computed (OIDC Core §8): the subject options of its grants, and of
 * `manager.subjectFor` when a presented ID token must name a given user.
 */
export function subjectOptionsOf(client: ClientMetadata): { subType: 'public' | 'pairwise'; sectorIdentifier?: string } {
  return client.subject_type === 'pairwise' ? { subType: 'pairwise', sectorIdentifier: sectorIdentifierOf(client) } : { subType: 'public' };
}
