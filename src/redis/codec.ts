/**
 * Compact encodings of the tree's records for Redis, and back.
 *
 * A stored record is a small tab-separated header that the Lua scripts read and rewrite (flags,
 * counters, ids they compare, expiry), optionally followed by a newline and a JSON body that only
 * this module reads. Scripts never decode or re-encode JSON, so numbers, empty objects and
 * unusual strings come back exactly as they went in. Fields that repeat what the record's parent
 * already holds (user id, client id, the grant's scope, default usage rules) are left out and
 * restored on reading: that is most of what keeps a full token set within the memory budget.
 *
 * Header layouts (fields separated by TAB; ids escaped with {@link esc}):
 * - user:   `epoch createdAt userId` then one line per browser session: `id createdAt expiresAt epoch`
 * - client: `revoked createdAt`
 * - grant:  `revoked clientId grantId expiresAt scope seq` NL body
 * - token:  `T<revoked> userHash grantHash id class basedOn familyId used maxUsage usedAt expiresAt scope` NL body
 * - marker: `M userHash grantHash tokenId class familyId usedAt expiresAt`
 *
 * A token's scope field is a single space when it equals its grant's scope (the scripts decide
 * that, since only they see the grant when writing). A family id equal to the token's own id is
 * written `%=`, which no escaped id can spell.
 */
import type {
  AuthnEvent,
  BrowserSessionRecord,
  ClientRecord,
  CodeBinding,
  GrantRecord,
  ReuseMarker,
  SubjectType,
  TokenRecord,
  UsageRules,
  UserRecord,
} from '../tree/records.js';
import { BUILTIN_CLASSES, DEFAULT_USAGE_RULES } from '../tree/usage-rules.js';
import { esc, unesc } from './keys.js';

type Json = Record<string, unknown>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Objects are built by assigning fields one by one, in a fixed order, never with
 * `...(cond && {...})`: V8 takes a slow path for spreads of false, undefined and objects of
 * several shapes (several microseconds per record against a fraction of one). Keys that come
 * from data (ids, claims, request parameters) are defined, never assigned, so `__proto__` stays
 * an ordinary key.
 */
/**
 * Freezes parsed JSON all the way down. Decoded grants are shared between callers (see
 * `decoded.ts`), so nothing reachable from one may change.
 */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Json)[k]);
  }
  return v;
}

function define(o: object, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

const SAME_FAMILY = '%=';
const SAME_SCOPE = ' ';

const CLASS_CODES: Readonly<Record<string, string>> = {
  authorization_code: 'c',
  access_token: 'a',
  refresh_token: 'r',
  id_token: 'i',
};
const CODE_CLASSES: Readonly<Record<string, string>> = { c: 'authorization_code', a: 'access_token', r: 'refresh_token', i: 'id_token' };

export function encodeClass(cls: string): string {
  return Object.hasOwn(CLASS_CODES, cls) ? CLASS_CODES[cls]! : `~${esc(cls)}`;
}
export function decodeClass(code: string): string {
  return code.startsWith('~') ? unesc(code.slice(1)) : (CODE_CLASSES[code] ?? unesc(code));
}

const num = (s: string | undefined): number => Number(s);

/**
 * Fields this codec doesn't know (a record type that grew after this file was written) travel
 * as-is in an `x` object, so an unknown field is never dropped silently.
 */
function extras(o: object, known: ReadonlySet<string>): Json | undefined {
  let x: Json | undefined;
  for (const k of Object.keys(o)) {
    const v = (o as Json)[k];
    if (known.has(k) || v === undefined) continue;
    x ??= {};
    define(x, k, v);
  }
  return x;
}

const RULE_FIELDS = new Set(['expiresIn', 'maxUsage', 'supportsMinting', 'format']);
const GRANT_FIELDS = new Set([
  'id', 'userId', 'clientId', 'scope', 'claims', 'resources', 'authRequest', 'authnEvent', 'sub', 'subType',
  'usageRules', 'issuedAt', 'notBefore', 'expiresAt', 'revoked', 'browserSessionId',
]);
const AUTHN_FIELDS = new Set(['userId', 'authnInfo', 'amr', 'authnTime', 'validUntil']);
const TOKEN_FIELDS = new Set([
  'id', 'grantId', 'userId', 'clientId', 'class', 'hash', 'basedOn', 'scope', 'claims', 'resources', 'usageRules',
  'used', 'issuedAt', 'notBefore', 'expiresAt', 'revoked', 'epoch', 'offline', 'browserSessionId', 'usedAt',
  'chainStartedAt', 'familyId', 'codeBinding',
]);
const BINDING_FIELDS = new Set(['redirectUri', 'codeChallenge', 'codeChallengeMethod', 'nonce']);
const scopeString = (scope: readonly string[]): string => scope.join(' ');
const scopeList = (s: string): string[] => (s === '' ? [] : s.split(' '));


// ------------------------------------------------------------------ usage rules

/** True when `a` and `b` are equal field for field (and neither has a field this codec doesn't know). */
function sameRules(a: UsageRules, b: UsageRules): boolean {
  if (a === b) return true; // the manager hands out the table's own rules when a mint overrides none
  return (
    extras(a, RULE_FIELDS) === undefined &&
    extras(b, RULE_FIELDS) === undefined &&
    a.expiresIn === b.expiresIn &&
    a.maxUsage === b.maxUsage &&
    a.format === b.format &&
    a.supportsMinting.length === b.supportsMinting.length &&
    a.supportsMinting.every((c, i) => b.supportsMinting[i] === c)
  );
}

const BUILTIN = new Set<string>(BUILTIN_CLASSES);

/**
 * `[expiresIn|null, maxUsage|null, minting, format?]`; minting is class codes when all are built
 * in; format is absent when the rules have none.
 */
function encodeRules(r: UsageRules): unknown[] {
  const minting = r.supportsMinting.every((c) => BUILTIN.has(c)) ? r.supportsMinting.map((c) => CLASS_CODES[c]).join('') : [...r.supportsMinting];
  const out: unknown[] = [r.expiresIn ?? null, r.maxUsage ?? null, minting];
  const x = extras(r, RULE_FIELDS);
  if (r.format !== undefined || x) out.push(r.format ?? null);
  if (x) out.push(x);
  return out;
}

function decodeRules(a: unknown): UsageRules {
  const [e, m, minting, format, x] = a as [number | null, number | null, string | string[], UsageRules['format'] | null | undefined, Json | undefined];
  const list = typeof minting === 'string' ? [...minting].map((c) => CODE_CLASSES[c]!) : minting;
  const r = {} as Mutable<UsageRules>;
  if (e !== null) r.expiresIn = e;
  if (m !== null) r.maxUsage = m;
  r.supportsMinting = Object.freeze(list);
  if (format !== undefined && format !== null) r.format = format;
  return Object.freeze(x === undefined ? r : { ...r, ...x });
}

function defaultRules(cls: string): UsageRules | undefined {
  return Object.hasOwn(DEFAULT_USAGE_RULES, cls) ? DEFAULT_USAGE_RULES[cls] : undefined;
}

function encodeRuleTable(table: Readonly<Record<string, UsageRules>>): { u?: Json; ux?: string[] } {
  const u: Json = {};
  let changed = false;
  for (const cls of Object.keys(table)) {
    const d = defaultRules(cls);
    if (d && sameRules(d, table[cls]!)) continue;
    Object.defineProperty(u, cls, { value: encodeRules(table[cls]!), enumerable: true });
    changed = true;
  }
  const missing = Object.keys(DEFAULT_USAGE_RULES).filter((cls) => !Object.hasOwn(table, cls));
  return { ...(changed && { u }), ...(missing.length > 0 && { ux: missing }) };
}

const DEFAULT_CLASSES = Object.keys(DEFAULT_USAGE_RULES);

function decodeRuleTable(u: Json | undefined, ux: string[] | undefined): Readonly<Record<string, UsageRules>> {
  // The defaults themselves: frozen all the way down, so one table serves every such grant.
  if (u === undefined && ux === undefined) return DEFAULT_USAGE_RULES;
  const out: Record<string, UsageRules> = {};
  for (const cls of DEFAULT_CLASSES) {
    if (!ux?.includes(cls) && !(u && Object.hasOwn(u, cls))) out[cls] = DEFAULT_USAGE_RULES[cls]!;
  }
  if (u) for (const cls of Object.keys(u)) define(out, cls, decodeRules(u[cls]));
  return Object.freeze(out);
}

// ------------------------------------------------------------------ user, client

export function encodeUser(user: UserRecord): string {
  let out = `${user.epoch}\t${user.createdAt}\t${esc(user.userId)}`;
  for (const id of Object.keys(user.browserSessions)) out += `\n${encodeBrowserSession(user.browserSessions[id]!)}`;
  return out;
}

/** Header line of a user with no browser sessions yet. */
export function newUserHead(userId: string, createdAt: number): string {
  return `0\t${createdAt}\t${esc(userId)}`;
}

export function encodeBrowserSession(s: BrowserSessionRecord): string {
  return `${esc(s.id)}\t${s.createdAt}\t${s.expiresAt}\t${s.epoch}`;
}

export function decodeUser(v: string): UserRecord {
  const lines = v.split('\n');
  const [epoch, createdAt, userId] = lines[0]!.split('\t');
  const sessions: [string, BrowserSessionRecord][] = [];
  for (let i = 1; i < lines.length; i++) {
    const [id, c, e, ep] = lines[i]!.split('\t');
    const s = Object.freeze({ id: unesc(id!), createdAt: num(c), expiresAt: num(e), epoch: num(ep) });
    sessions.push([s.id, s]);
  }
  return Object.freeze({
    userId: unesc(userId!),
    epoch: num(epoch),
    browserSessions: Object.freeze(Object.fromEntries(sessions)),
    createdAt: num(createdAt),
  });
}

export function encodeClient(c: Pick<ClientRecord, 'revoked' | 'createdAt'>): string {
  return `${c.revoked ? 1 : 0}\t${c.createdAt}`;
}

export function decodeClient(v: string, userId: string, clientId: string): ClientRecord {
  const [revoked, createdAt] = v.split('\t');
  return Object.freeze({ userId, clientId, revoked: revoked === '1', createdAt: num(createdAt) });
}

// ------------------------------------------------------------------ grant

const SUBTYPE_CODES: Readonly<Record<SubjectType, string | undefined>> = { public: undefined, pairwise: 'w', ephemeral: 'e' };

/**
 * A grant as header (through the scope) and body (from the newline on); the script inserts the
 * user's next sequence number between them, which orders grants of the same millisecond (B-29).
 */
export function encodeGrant(g: GrantRecord): { head: string; body: string } {
  const scope = scopeString(g.scope);
  const a: Json = {};
  let af = 0;
  for (const k of Object.keys(g.authRequest)) {
    const v = g.authRequest[k];
    if (k === 'client_id' && v === g.clientId) af |= 1;
    else if (k === 'scope' && v === scope) af |= 2;
    else Object.defineProperty(a, k, { value: v, enumerable: true });
  }
  const e = g.authnEvent;
  const body: Json = {};
  for (const k in g.claims) {
    if (Object.hasOwn(g.claims, k)) {
      body.c = g.claims;
      break;
    }
  }
  if (g.resources.length > 0) body.r = g.resources;
  for (const k in a) {
    if (Object.hasOwn(a, k)) {
      body.a = a;
      break;
    }
  }
  if (af !== 0) body.af = af;
  body.e = [e.authnTime, e.validUntil];
  if (e.authnInfo !== undefined) body.ei = e.authnInfo;
  if (e.amr !== undefined) body.em = e.amr;
  if (e.userId !== g.userId) body.eu = e.userId;
  body.s = g.sub;
  const st = SUBTYPE_CODES[g.subType];
  if (st !== undefined) body.st = st;
  const rules = encodeRuleTable(g.usageRules);
  if (rules.u !== undefined) body.u = rules.u;
  if (rules.ux !== undefined) body.ux = rules.ux;
  body.i = g.issuedAt;
  if (g.notBefore !== g.issuedAt) body.n = g.notBefore;
  if (g.browserSessionId !== undefined) body.b = g.browserSessionId;
  const x = extras(g, GRANT_FIELDS);
  if (x !== undefined) body.x = x;
  const ex = extras(e, AUTHN_FIELDS);
  if (ex !== undefined) body.ex = ex;
  return { head: `${g.revoked ? 1 : 0}\t${esc(g.clientId)}\t${esc(g.id)}\t${g.expiresAt}\t${scope}`, body: `\n${JSON.stringify(body)}` };
}

/** The creation sequence number of a stored grant (newer grants have larger ones). */
export function grantSeq(v: string): number {
  return Number(v.slice(0, v.indexOf('\n')).split('\t')[5]);
}

/** The client id and grant id a stored grant names, for checking a path. */
export function grantIds(v: string): { clientId: string; grantId: string } {
  const [, c, g] = v.slice(0, v.indexOf('\n')).split('\t');
  return { clientId: unesc(c!), grantId: unesc(g!) };
}

export function decodeGrant(v: string, userId: string): GrantRecord {
  const nl = v.indexOf('\n');
  const [revoked, c, id, expiresAt, scope] = v.slice(0, nl).split('\t');
  const b = JSON.parse(v.slice(nl + 1)) as Json;
  const clientId = unesc(c!);
  const scopeStr = scope!;
  let authRequest = (b.a as Json | undefined) ?? {};
  const af = (b.af as number | undefined) ?? 0;
  if (af !== 0) {
    const restored: Json = {};
    if (af & 1) restored.client_id = clientId;
    if (af & 2) restored.scope = scopeStr;
    authRequest = { ...restored, ...authRequest };
  }
  const [authnTime, validUntil] = b.e as [number, number];
  const ev = { userId: (b.eu as string | undefined) ?? userId } as Mutable<AuthnEvent>;
  if (b.ei !== undefined) ev.authnInfo = b.ei as string;
  if (b.em !== undefined) ev.amr = Object.freeze(b.em as string[]);
  ev.authnTime = authnTime;
  ev.validUntil = validUntil;
  // What reaches callers as parsed (claims, the request, unknown fields) is frozen all the way
  // down; the rest is rebuilt into frozen records.
  deepFreeze(authRequest);
  const authnEvent: AuthnEvent = Object.freeze(b.ex === undefined ? ev : { ...ev, ...deepFreeze(b.ex as Json) });
  const subType: SubjectType = b.st === 'w' ? 'pairwise' : b.st === 'e' ? 'ephemeral' : 'public';
  const issuedAt = b.i as number;
  const g = {
    id: unesc(id!),
    userId,
    clientId,
    scope: Object.freeze(scopeList(scopeStr)),
    claims: deepFreeze((b.c as GrantRecord['claims'] | undefined) ?? {}),
    resources: Object.freeze((b.r as string[] | undefined) ?? []),
    authRequest,
    authnEvent,
    sub: b.s as string,
    subType,
    usageRules: decodeRuleTable(b.u as Json | undefined, b.ux as string[] | undefined),
    issuedAt,
    notBefore: (b.n as number | undefined) ?? issuedAt,
    expiresAt: num(expiresAt),
    revoked: revoked === '1',
  } as Mutable<GrantRecord>;
  if (b.b !== undefined) g.browserSessionId = b.b as string;
  return Object.freeze(b.x === undefined ? g : { ...g, ...deepFreeze(b.x as Json) });
}

// ------------------------------------------------------------------ tokens and markers

/**
 * A token split around its scope field: the script writes `pre + scope + post`, with the scope
 * replaced by {@link SAME_SCOPE} when it equals the grant's.
 */
export interface EncodedToken {
  readonly pre: string;
  readonly scope: string;
  readonly post: string;
}

export function encodeToken(t: TokenRecord, uh: string, gh: string): EncodedToken {
  const d = defaultRules(t.class);
  const cb = t.codeBinding;
  const body: Json = { i: t.issuedAt };
  if (t.notBefore !== t.issuedAt) body.n = t.notBefore;
  if (!(d && sameRules(d, t.usageRules))) body.u = encodeRules(t.usageRules);
  if (t.epoch !== 0) body.e = t.epoch;
  if (t.offline) body.o = 1;
  if (t.browserSessionId !== undefined) body.b = t.browserSessionId;
  if (t.chainStartedAt !== undefined) body.k = t.chainStartedAt;
  if (t.claims !== undefined) body.cl = t.claims;
  if (t.resources !== undefined) body.rs = t.resources;
  if (cb !== undefined) {
    const db: Json = {};
    if (cb.redirectUri !== undefined) db.r = cb.redirectUri;
    if (cb.codeChallenge !== undefined) db.c = cb.codeChallenge;
    if (cb.codeChallengeMethod !== undefined) db.m = cb.codeChallengeMethod === 'plain' ? 'p' : 'S';
    if (cb.nonce !== undefined) db.n = cb.nonce;
    const bx = extras(cb, BINDING_FIELDS);
    if (bx !== undefined) db.x = bx;
    body.d = db;
  }
  const x = extras(t, TOKEN_FIELDS);
  if (x !== undefined) body.x = x;
  const fam = t.familyId === undefined ? '' : t.familyId === t.id ? SAME_FAMILY : esc(t.familyId);
  const pre =
    `T${t.revoked ? 1 : 0}\t${uh}\t${gh}\t${esc(t.id)}\t${encodeClass(t.class)}\t${t.basedOn === undefined ? '' : esc(t.basedOn)}\t${fam}\t` +
    `${t.used}\t${t.usageRules.maxUsage ?? ''}\t${t.usedAt ?? ''}\t${t.expiresAt}\t`;
  return { pre, scope: scopeString(t.scope), post: `\n${JSON.stringify(body)}` };
}

export function encodeMarker(m: ReuseMarker, uh: string, gh: string): string {
  const fam = m.familyId === undefined ? '' : m.familyId === m.tokenId ? SAME_FAMILY : esc(m.familyId);
  return `M\t${uh}\t${gh}\t${esc(m.tokenId)}\t${encodeClass(m.class)}\t${fam}\t${m.usedAt}\t${m.expiresAt}`;
}

export const isMarker = (v: string): boolean => v.startsWith('M');

export function decodeToken(v: string, hash: string, grant: GrantRecord): TokenRecord {
  const nl = v.indexOf('\n');
  const h = v.slice(0, nl).split('\t');
  const b = JSON.parse(v.slice(nl + 1)) as Json;
  const id = unesc(h[3]!);
  const cls = decodeClass(h[4]!);
  const fam = h[6]!;
  const d = b.d as Json | undefined;
  const scope = h[11] === SAME_SCOPE ? grant.scope : Object.freeze(scopeList(h[11]!));
  const issuedAt = b.i as number;
  const t = { id, grantId: grant.id, userId: grant.userId, clientId: grant.clientId, class: cls, hash } as Mutable<TokenRecord>;
  if (h[5] !== '') t.basedOn = unesc(h[5]!);
  t.scope = scope;
  if (b.cl !== undefined) t.claims = b.cl as Json;
  if (b.rs !== undefined) t.resources = Object.freeze(b.rs as string[]);
  t.usageRules = b.u !== undefined ? decodeRules(b.u) : defaultRules(cls)!;
  t.used = num(h[7]);
  t.issuedAt = issuedAt;
  t.notBefore = (b.n as number | undefined) ?? issuedAt;
  t.expiresAt = num(h[10]);
  t.revoked = h[0] === 'T1';
  t.epoch = (b.e as number | undefined) ?? 0;
  t.offline = b.o === 1;
  if (b.b !== undefined) t.browserSessionId = b.b as string;
  if (h[9] !== '') t.usedAt = num(h[9]);
  if (b.k !== undefined) t.chainStartedAt = b.k as number;
  if (fam !== '') t.familyId = fam === SAME_FAMILY ? id : unesc(fam);
  if (d !== undefined) {
    const cb = {} as Mutable<CodeBinding>;
    if (d.r !== undefined) cb.redirectUri = d.r as string;
    if (d.c !== undefined) cb.codeChallenge = d.c as string;
    if (d.m !== undefined) cb.codeChallengeMethod = d.m === 'p' ? 'plain' : 'S256';
    if (d.n !== undefined) cb.nonce = d.n as string;
    t.codeBinding = Object.freeze(d.x === undefined ? cb : { ...cb, ...(d.x as Json) });
  }
  return Object.freeze(b.x === undefined ? t : { ...t, ...(b.x as Json) });
}

export function decodeMarker(v: string, hash: string, grant: GrantRecord): ReuseMarker {
  const [, , , id, cls, fam, usedAt, expiresAt] = v.split('\t');
  const tokenId = unesc(id!);
  return Object.freeze({
    hash,
    tokenId,
    grantId: grant.id,
    userId: grant.userId,
    clientId: grant.clientId,
    class: decodeClass(cls!),
    usedAt: num(usedAt),
    expiresAt: num(expiresAt),
    ...(fam !== '' && { familyId: fam === SAME_FAMILY ? tokenId : unesc(fam!) }),
  });
}
