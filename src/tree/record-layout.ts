/**
 * Frozen records laid out in one piece of memory each.
 *
 * V8 keeps the properties of an object made by a constructor function inside the object: while
 * it learns the shape it reserves room for every property the constructor may set, optional
 * ones included. An object literal grown by assignment spills every property past the literal's
 * own into a separate backing array: 16 bytes of header plus slack per record (a tenth of a
 * token record), and one more pointer to follow on every read. The stores keep millions of
 * these records, so every record is built here.
 *
 * Each constructor's `prototype` is `Object.prototype`: what they make are plain objects (same
 * prototype as a literal, own enumerable data properties only, in the order of the record
 * types), so JSON, `structuredClone` and deep equality see no difference. Optional fields are
 * set only when defined, as a literal would leave them out. Callers may pass drafts that carry
 * absent optional fields as `undefined`.
 */
import type { AuthnEvent, BrowserSessionRecord, ClientRecord, GrantRecord, ReuseMarker, TokenRecord, UserRecord } from './records.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A constructor function typed for `new`, making plain objects (see the module comment). */
function plainConstructor<A extends unknown[], T>(init: (this: Mutable<T>, ...args: A) => void): new (...args: A) => T {
  (init as unknown as { prototype: object }).prototype = Object.prototype;
  return init as unknown as new (...args: A) => T;
}

/** The fields of a token that change over its life; everything else is fixed at mint time. */
export interface TokenChange {
  readonly used: number;
  readonly usedAt?: number | undefined;
  readonly revoked: boolean;
}

// Two constructors with one body: V8 sizes the objects of each constructor by the most fields
// any of its first objects had, and refresh tokens carry two more (family, chain start) than
// the other classes; sharing one constructor left two empty slots in every other token.
const tokenShape = () => plainConstructor(function (this: Mutable<TokenRecord>, t: TokenRecord, c: TokenChange) {
  this.id = t.id;
  this.grantId = t.grantId;
  this.userId = t.userId;
  this.clientId = t.clientId;
  this.class = t.class;
  this.hash = t.hash;
  if (t.basedOn !== undefined) this.basedOn = t.basedOn;
  this.scope = t.scope;
  if (t.claims !== undefined) this.claims = t.claims;
  if (t.resources !== undefined) this.resources = t.resources;
  this.usageRules = t.usageRules;
  this.used = c.used;
  this.issuedAt = t.issuedAt;
  this.notBefore = t.notBefore;
  this.expiresAt = t.expiresAt;
  this.revoked = c.revoked;
  this.epoch = t.epoch;
  this.offline = t.offline;
  if (t.browserSessionId !== undefined) this.browserSessionId = t.browserSessionId;
  if (c.usedAt !== undefined) this.usedAt = c.usedAt;
  if (t.familyId !== undefined) this.familyId = t.familyId;
  if (t.chainStartedAt !== undefined) this.chainStartedAt = t.chainStartedAt;
  if (t.codeBinding !== undefined) this.codeBinding = t.codeBinding;
});
const Token = tokenShape();
const RefreshToken = tokenShape();

/** `t` as a frozen record, with `change` (default: t's own used, usedAt and revoked). */
export function tokenRecord(t: TokenRecord, change: TokenChange = t): TokenRecord {
  return Object.freeze(t.class === 'refresh_token' ? new RefreshToken(t, change) : new Token(t, change));
}

const Marker = plainConstructor(function (this: Mutable<ReuseMarker>, t: TokenRecord, usedAt: number) {
  this.hash = t.hash;
  this.tokenId = t.id;
  this.grantId = t.grantId;
  this.userId = t.userId;
  this.clientId = t.clientId;
  this.class = t.class;
  this.usedAt = usedAt;
  this.expiresAt = t.expiresAt;
  if (t.familyId !== undefined) this.familyId = t.familyId;
});

/** The reuse marker that takes the place of a used-up token. */
export function reuseMarker(t: TokenRecord, usedAt: number): ReuseMarker {
  return Object.freeze(new Marker(t, usedAt));
}

const MarkerCopy = plainConstructor(function (this: Mutable<ReuseMarker>, m: ReuseMarker) {
  this.hash = m.hash;
  this.tokenId = m.tokenId;
  this.grantId = m.grantId;
  this.userId = m.userId;
  this.clientId = m.clientId;
  this.class = m.class;
  this.usedAt = m.usedAt;
  this.expiresAt = m.expiresAt;
  if (m.familyId !== undefined) this.familyId = m.familyId;
});

/** `m` as a frozen record (for markers that come from a dump). */
export function markerRecord(m: ReuseMarker): ReuseMarker {
  return Object.freeze(new MarkerCopy(m));
}

const Grant = plainConstructor(function (this: Mutable<GrantRecord>, g: GrantRecord, revoked: boolean) {
  this.id = g.id;
  this.userId = g.userId;
  this.clientId = g.clientId;
  this.scope = g.scope;
  this.claims = g.claims;
  this.resources = g.resources;
  this.authRequest = g.authRequest;
  this.authnEvent = g.authnEvent;
  this.sub = g.sub;
  this.subType = g.subType;
  this.usageRules = g.usageRules;
  this.issuedAt = g.issuedAt;
  this.notBefore = g.notBefore;
  this.expiresAt = g.expiresAt;
  this.revoked = revoked;
  if (g.browserSessionId !== undefined) this.browserSessionId = g.browserSessionId;
});

/** `g` as a frozen record, revoked or not (default: as `g` is). */
export function grantRecord(g: GrantRecord, revoked = g.revoked): GrantRecord {
  return Object.freeze(new Grant(g, revoked));
}

const Authn = plainConstructor(function (this: Mutable<AuthnEvent>, e: AuthnEvent) {
  this.userId = e.userId;
  if (e.authnInfo !== undefined) this.authnInfo = e.authnInfo;
  if (e.amr !== undefined) this.amr = e.amr;
  this.authnTime = e.authnTime;
  this.validUntil = e.validUntil;
});

export function authnEventRecord(e: AuthnEvent): AuthnEvent {
  return Object.freeze(new Authn(e));
}

const Client = plainConstructor(function (this: Mutable<ClientRecord>, userId: string, clientId: string, revoked: boolean, createdAt: number) {
  this.userId = userId;
  this.clientId = clientId;
  this.revoked = revoked;
  this.createdAt = createdAt;
});

export function clientRecord(userId: string, clientId: string, revoked: boolean, createdAt: number): ClientRecord {
  return Object.freeze(new Client(userId, clientId, revoked, createdAt));
}

const User = plainConstructor(function (
  this: Mutable<UserRecord>,
  userId: string,
  epoch: number,
  browserSessions: UserRecord['browserSessions'],
  createdAt: number,
) {
  this.userId = userId;
  this.epoch = epoch;
  this.browserSessions = browserSessions;
  this.createdAt = createdAt;
});

export function userRecord(userId: string, epoch: number, browserSessions: UserRecord['browserSessions'], createdAt: number): UserRecord {
  return Object.freeze(new User(userId, epoch, browserSessions, createdAt));
}

const BrowserSession = plainConstructor(function (this: Mutable<BrowserSessionRecord>, s: BrowserSessionRecord, epoch: number) {
  this.id = s.id;
  this.createdAt = s.createdAt;
  this.expiresAt = s.expiresAt;
  this.epoch = epoch;
});

/** `s` as a frozen record of the given user epoch. */
export function browserSessionRecord(s: BrowserSessionRecord, epoch = s.epoch): BrowserSessionRecord {
  return Object.freeze(new BrowserSession(s, epoch));
}
