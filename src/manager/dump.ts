/**
 * Validation of imported dumps (B-53): every record is rebuilt field by field from checked
 * values, so data can carry neither code nor prototype tricks into the store.
 */
import { types } from 'node:util';
import { InvalidInput } from '../errors.js';
import type { TreeDump } from '../store/store.js';
import type {
  AuthnEvent,
  BrowserSessionRecord,
  ClientRecord,
  CodeBinding,
  GrantRecord,
  ReuseMarker,
  SubjectType,
  TokenRecord,
  UserRecord,
} from '../tree/records.js';
import { normalizeRuleTable, normalizeRules } from '../tree/usage-rules.js';
import { cloneJson, cloneJsonObject, requireId, requirePlainObject, requireScopes } from '../tree/validate.js';

type Obj = Record<string, unknown>;

/**
 * Largest number a dump may hold (timestamps in ms, epochs, use counts): 14 digits, up to the
 * year 5138. Larger ones are no record's, and Redis' Lua prints a number of 15 digits or more in
 * exponent form, which PEXPIREAT refuses: a Redis load would fail with StoreUnavailable.
 */
const MAX_DUMP_NUMBER = 99_999_999_999_999;
const num = (o: Obj, k: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !(v >= 0 && v <= MAX_DUMP_NUMBER)) throw new InvalidInput(`dump: ${k} must be a number from 0 to ${MAX_DUMP_NUMBER}`);
  return v;
};
const bool = (o: Obj, k: string): boolean => {
  if (typeof o[k] !== 'boolean') throw new InvalidInput(`dump: ${k} must be a boolean`);
  return o[k] as boolean;
};
const str = (o: Obj, k: string, max?: number): string => requireId(o[k], `dump: ${k}`, max);
const optStr = (o: Obj, k: string, max?: number): string | undefined => (o[k] === undefined ? undefined : str(o, k, max));
/**
 * The entries of a plain, dense array. `map` would skip holes (and keep them in its result), so
 * each index is read once by a counted loop; a proxy or an array of another prototype, whose
 * length and entries could change between reads, is refused outright.
 */
const list = (o: Obj, k: string, max: number): Obj[] => {
  const v = o[k];
  if (!Array.isArray(v) || types.isProxy(v) || Object.getPrototypeOf(v) !== Array.prototype || v.length > max) {
    throw new InvalidInput(`dump: ${k} must be an array`);
  }
  const n = v.length;
  const out: Obj[] = [];
  for (let i = 0; i < n; i++) {
    if (!Object.hasOwn(v, i)) throw new InvalidInput(`dump: ${k} has a hole at ${i}`);
    out.push(requirePlainObject(v[i], `dump: ${k} entry`));
  }
  return out;
};
const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]: V }));

function browserSession(o: Obj): BrowserSessionRecord {
  return { id: str(o, 'id', 256), createdAt: num(o, 'createdAt'), expiresAt: num(o, 'expiresAt'), epoch: num(o, 'epoch') };
}

function user(o: Obj): UserRecord {
  const bs = requirePlainObject(o.browserSessions, 'dump: browserSessions');
  const sessions: Record<string, BrowserSessionRecord> = {};
  for (const k of Object.keys(bs)) {
    const s = browserSession(requirePlainObject(bs[k], 'dump: browser session'));
    if (s.id !== k) throw new InvalidInput('dump: browser session id does not match its key');
    Object.defineProperty(sessions, k, { value: s, enumerable: true });
  }
  return { userId: str(o, 'userId'), epoch: num(o, 'epoch'), browserSessions: sessions, createdAt: num(o, 'createdAt') };
}

function client(o: Obj): ClientRecord {
  return { userId: str(o, 'userId'), clientId: str(o, 'clientId'), revoked: bool(o, 'revoked'), createdAt: num(o, 'createdAt') };
}

function authnEvent(o: Obj): AuthnEvent {
  return {
    userId: str(o, 'userId'),
    ...opt('authnInfo', optStr(o, 'authnInfo', 256)),
    ...opt('amr', o.amr === undefined ? undefined : requireScopes(o.amr, 'dump: amr')),
    authnTime: num(o, 'authnTime'),
    validUntil: num(o, 'validUntil'),
  };
}

function grant(o: Obj): GrantRecord {
  const subType = o.subType as SubjectType;
  if (subType !== 'public' && subType !== 'pairwise' && subType !== 'ephemeral') throw new InvalidInput('dump: bad subType');
  return {
    id: str(o, 'id', 256),
    userId: str(o, 'userId'),
    clientId: str(o, 'clientId'),
    scope: requireScopes(o.scope, 'dump: scope'),
    claims: cloneJsonObject(o.claims, 'dump: claims') as GrantRecord['claims'],
    resources: requireScopes(o.resources, 'dump: resources'),
    authRequest: cloneJsonObject(o.authRequest, 'dump: authRequest') as Obj,
    authnEvent: authnEvent(requirePlainObject(o.authnEvent, 'dump: authnEvent')),
    sub: str(o, 'sub', 256),
    subType,
    usageRules: normalizeRuleTable(o.usageRules, {}, 'dump: usageRules'),
    issuedAt: num(o, 'issuedAt'),
    notBefore: num(o, 'notBefore'),
    expiresAt: num(o, 'expiresAt'),
    revoked: bool(o, 'revoked'),
    ...opt('browserSessionId', optStr(o, 'browserSessionId', 256)),
  };
}

function codeBinding(o: Obj): CodeBinding {
  const m = o.codeChallengeMethod;
  if (m !== undefined && m !== 'S256' && m !== 'plain') throw new InvalidInput('dump: bad codeChallengeMethod');
  return {
    ...opt('redirectUri', optStr(o, 'redirectUri', 2048)),
    ...opt('codeChallenge', optStr(o, 'codeChallenge', 256)),
    ...opt('codeChallengeMethod', m as 'S256' | 'plain' | undefined),
    ...opt('nonce', optStr(o, 'nonce', 1024)),
  };
}

function token(o: Obj): TokenRecord {
  return {
    id: str(o, 'id', 256),
    grantId: str(o, 'grantId', 256),
    userId: str(o, 'userId'),
    clientId: str(o, 'clientId'),
    class: str(o, 'class', 64),
    hash: str(o, 'hash', 128),
    ...opt('basedOn', optStr(o, 'basedOn', 256)),
    scope: requireScopes(o.scope, 'dump: scope'),
    ...opt('claims', o.claims === undefined ? undefined : (cloneJsonObject(o.claims, 'dump: claims') as Obj)),
    ...opt('resources', o.resources === undefined ? undefined : requireScopes(o.resources, 'dump: resources')),
    usageRules: normalizeRules(o.usageRules, undefined, 'dump: usageRules'),
    used: num(o, 'used'),
    issuedAt: num(o, 'issuedAt'),
    notBefore: num(o, 'notBefore'),
    expiresAt: num(o, 'expiresAt'),
    revoked: bool(o, 'revoked'),
    epoch: num(o, 'epoch'),
    offline: bool(o, 'offline'),
    ...opt('browserSessionId', optStr(o, 'browserSessionId', 256)),
    ...opt('usedAt', o.usedAt === undefined ? undefined : num(o, 'usedAt')),
    ...opt('chainStartedAt', o.chainStartedAt === undefined ? undefined : num(o, 'chainStartedAt')),
    ...opt('familyId', optStr(o, 'familyId', 256)),
    ...opt('codeBinding', o.codeBinding === undefined ? undefined : codeBinding(requirePlainObject(o.codeBinding, 'dump: codeBinding'))),
  };
}

function marker(o: Obj): ReuseMarker {
  return {
    hash: str(o, 'hash', 128),
    tokenId: str(o, 'tokenId', 256),
    grantId: str(o, 'grantId', 256),
    userId: str(o, 'userId'),
    clientId: str(o, 'clientId'),
    class: str(o, 'class', 64),
    usedAt: num(o, 'usedAt'),
    expiresAt: num(o, 'expiresAt'),
    ...opt('familyId', optStr(o, 'familyId', 256)),
  };
}

/** Checks a dump and returns a clean copy of it, or throws {@link InvalidInput}. */
export function validateDump(data: unknown, maxRecords: number): TreeDump {
  const d = requirePlainObject(data, 'dump');
  if (d.version !== 1) throw new InvalidInput('dump: unsupported version');
  return {
    version: 1,
    users: list(d, 'users', maxRecords).map(user),
    clients: list(d, 'clients', maxRecords).map(client),
    grants: list(d, 'grants', maxRecords).map(grant),
    tokens: list(d, 'tokens', maxRecords).map(token),
    markers: list(d, 'markers', maxRecords).map(marker),
  };
}
