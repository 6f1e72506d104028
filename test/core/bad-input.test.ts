/**
 * Bad input at every public SessionManager method (issue 2, "Bad input"): wrong types, empty and
 * oversized strings, unknown token classes, tampered / truncated / foreign session ids, unknown
 * and foreign tokens. Each call must fail with the typed error of SPEC §5 — never a TypeError —
 * and write nothing (the dump is compared before and after). Object.prototype must be unchanged.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  InactiveToken,
  InvalidInput,
  InvalidSessionId,
  MintingNotAllowed,
  OidcSessionsError,
  UnknownSession,
  UnknownToken,
  WrongClient,
} from '../../src/errors.js';
import { SessionManager } from '../../src/manager/session-manager.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { MAX_TOKEN_LENGTH } from '../../src/tree/validate.js';
import {
  REDIRECT,
  SECRETS,
  TestClock,
  VERIFIER,
  authRequest,
  canonicalDump,
  codeFlow,
  makeManager,
  newSession,
  pkceChallenge,
  prototypeSnapshot,
} from '../conformance/harness.js';

type ErrorClass = new (...args: never[]) => OidcSessionsError;
/** One bad call: a label, the call, and the error it must raise. */
type Case = readonly [label: string, call: () => unknown, expected: ErrorClass];

/** Values of the wrong type for a string argument. */
const NOT_STRINGS: ReadonlyArray<readonly [string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['number', 42],
  ['NaN', NaN],
  ['boolean', true],
  ['object', { toString: () => 'alice' }],
  ['array', ['alice']],
  ['function', () => 'alice'],
  ['symbol', Symbol('alice')],
  ['bigint', 10n],
  ['String object', new String('alice')],
];
/** Strings no id may be. */
const BAD_IDS: ReadonlyArray<readonly [string, unknown]> = [
  ['empty', ''],
  ['over 4096', 'x'.repeat(4097)],
  ['lone surrogate', 'a\uD800b'],
  ...NOT_STRINGS,
];
/** Values that are not an options object. */
const NOT_OBJECTS: ReadonlyArray<readonly [string, unknown]> = [
  ['null', null],
  ['number', 1],
  ['string', 'x'],
  ['array', []],
  ['boolean', false],
];

const any = (v: unknown) => v as never;

describe('bad input: typed errors, nothing written, no TypeError', function () {
  this.timeout(60_000);
  let clock: TestClock;
  let m: SessionManager;
  let fx: Awaited<ReturnType<typeof fixture>>;
  let protoBefore: string[];

  async function fixture() {
    const f = await codeFlow(m, 'alice', 'app');
    const bob = await codeFlow(m, 'bob', 'app');
    const bs = await m.startBrowserSession('alice', { validFor: 3600 });
    const pkceSid = await newSession(m, 'alice', 'app');
    const pkceCode = await m.mintToken(pkceSid, 'authorization_code', { codeBinding: { codeChallenge: pkceChallenge(VERIFIER), codeChallengeMethod: 'S256', redirectUri: REDIRECT } });
    const foreign = makeManager(new MemoryStore(), clock, {
      secrets: { sessionIdKeys: [{ kid: 'k2', key: Buffer.alloc(32, 99) }], subjectSalt: Buffer.alloc(32, 98) },
    });
    const foreignFlow = await codeFlow(foreign, 'alice', 'app');
    return { f, bob, bs, pkceSid, pkceCode, foreignFlow };
  }

  beforeEach(async () => {
    protoBefore = prototypeSnapshot();
    clock = new TestClock();
    m = makeManager(undefined, clock);
    fx = await fixture();
  });
  afterEach(() => {
    assert.deepEqual(prototypeSnapshot(), protoBefore, 'Object.prototype changed');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  /** Runs the cases; each must throw its typed error and leave the tree exactly as it was. */
  async function check(cases: readonly Case[]): Promise<void> {
    const before = canonicalDump(await m.dump());
    for (const [label, call, expected] of cases) {
      let err: unknown;
      try {
        await call();
      } catch (e) {
        err = e;
      }
      assert.ok(err !== undefined, `${label}: expected ${expected.name}, the call succeeded`);
      assert.ok(!(err instanceof TypeError), `${label}: TypeError ${(err as Error).message}`);
      assert.ok(err instanceof expected, `${label}: expected ${expected.name}, got ${(err as Error).name}: ${(err as Error).message}`);
      assert.equal(typeof (err as OidcSessionsError).code, 'string');
    }
    assert.deepEqual(canonicalDump(await m.dump()), before, 'a failed call wrote to the store');
  }

  /** Session ids that must not open: tampered bytes, truncations, appended characters, foreign keys. */
  function badSessionIds(sid: string): Array<readonly [string, string]> {
    const raw = Buffer.from(sid, 'base64url');
    const out: Array<readonly [string, string]> = [];
    for (let i = 0; i < raw.length; i++) {
      const t = Buffer.from(raw);
      t[i]! ^= 0x01;
      out.push([`byte ${i} flipped`, t.toString('base64url')]);
    }
    for (let n = 0; n < sid.length; n++) out.push([`truncated to ${n}`, sid.slice(0, n)]);
    for (const suffix of ['A', 'AA', '!', '=', ' ', '\u0000', '.', 'é']) out.push([`appended ${JSON.stringify(suffix)}`, sid + suffix]);
    // Another spelling of the same bytes; when the id happens to spell the same in both
    // alphabets (no '-', '_' or padding), there is no other spelling to try.
    const standard = raw.toString('base64');
    if (standard !== sid) out.push(['standard base64', standard]);
    out.push(['foreign key ring', fx.foreignFlow.sessionId]);
    out.push(['over maximum length', 'A'.repeat(40_001)]);
    return out;
  }

  it('the tables below cover every public method', () => {
    const methods = Object.getOwnPropertyNames(SessionManager.prototype).filter((n) => n !== 'constructor' && n !== 'store');
    assert.deepEqual(methods.filter((n) => !COVERED.has(n)), []);
  });

  const COVERED = new Set<string>();
  const covers = (...names: string[]) => names.forEach((n) => COVERED.add(n));

  covers('findToken', 'getAuthenticationEvent', 'getClientSessionInfo', 'getSessionInfo', 'grants', 'revokeClientSession', 'revokeGrant', 'revokeToken', 'mintToken', 'removeSession', 'openSessionId');
  it('every method taking a session id: tampered, truncated, extended, re-encoded and foreign ids are InvalidSessionId', async () => {
    const sid = fx.f.sessionId;
    const calls: Array<[string, (s: string) => unknown]> = [
      ['findToken', (s) => m.findToken(s, fx.f.access)],
      ['getAuthenticationEvent', (s) => m.getAuthenticationEvent(s)],
      ['getClientSessionInfo', (s) => m.getClientSessionInfo(s)],
      ['getSessionInfo', (s) => m.getSessionInfo(s)],
      ['grants', (s) => m.grants(s)],
      ['revokeClientSession', (s) => m.revokeClientSession(s)],
      ['revokeGrant', (s) => m.revokeGrant(s)],
      ['revokeToken', (s) => m.revokeToken(s, fx.f.access)],
      ['mintToken', (s) => m.mintToken(s, 'access_token')],
      ['removeSession', (s) => m.removeSession(s)],
      ['openSessionId', (s) => m.openSessionId(s)],
    ];
    const cases: Case[] = [];
    for (const [name, call] of calls) {
      for (const [label, bad] of badSessionIds(sid)) cases.push([`${name}: ${label}`, () => call(bad), InvalidSessionId]);
      // grants() also takes an object form, so a non-string there is an InvalidInput.
      for (const [label, bad] of NOT_STRINGS) cases.push([`${name}: ${label}`, () => call(any(bad)), name === 'grants' ? InvalidInput : InvalidSessionId]);
      cases.push([`${name}: plain path`, () => call('alice;;app'), InvalidSessionId]);
    }
    await check(cases);
  });

  it('methods that need a grant or a client session refuse shorter session ids', async () => {
    const user = m.sessionIdOf({ userId: 'alice' });
    const client = m.sessionIdOf({ userId: 'alice', clientId: 'app' });
    await check([
      ['getSessionInfo(client sid)', () => m.getSessionInfo(client), InvalidSessionId],
      ['getAuthenticationEvent(user sid)', () => m.getAuthenticationEvent(user), InvalidSessionId],
      ['findToken(client sid)', () => m.findToken(client, fx.f.access), InvalidSessionId],
      ['mintToken(client sid)', () => m.mintToken(client, 'access_token'), InvalidSessionId],
      ['revokeGrant(user sid)', () => m.revokeGrant(user), InvalidSessionId],
      ['revokeToken(client sid)', () => m.revokeToken(client, fx.f.access), InvalidSessionId],
      ['getClientSessionInfo(user sid)', () => m.getClientSessionInfo(user), InvalidSessionId],
      ['revokeClientSession(user sid)', () => m.revokeClientSession(user), InvalidSessionId],
      ['grants(user sid)', () => m.grants(user), InvalidSessionId],
    ]);
  });

  it('well-formed session ids of nodes that do not exist are UnknownSession', async () => {
    const ghost = m.sessionIdOf({ userId: 'ghost', clientId: 'app', grantId: 'g' });
    const ghostClient = m.sessionIdOf({ userId: 'alice', clientId: 'ghost' });
    await check([
      ['getSessionInfo', () => m.getSessionInfo(ghost), UnknownSession],
      ['getAuthenticationEvent', () => m.getAuthenticationEvent(ghost), UnknownSession],
      ['getClientSessionInfo', () => m.getClientSessionInfo(ghostClient), UnknownSession],
      ['revokeGrant', () => m.revokeGrant(ghost), UnknownSession],
      ['revokeClientSession', () => m.revokeClientSession(ghostClient), UnknownSession],
      ['mintToken', () => m.mintToken(ghost, 'access_token'), UnknownSession],
      ['removeSession', () => m.removeSession(ghost), UnknownSession],
      ['removeSession (user)', () => m.removeSession(m.sessionIdOf({ userId: 'ghost' })), UnknownSession],
      ['getUserInfo', () => m.getUserInfo('ghost'), UnknownSession],
      ['logoutUser', () => m.logoutUser('ghost'), UnknownSession],
    ]);
  });

  covers('validateToken', 'getSessionInfoByToken', 'redeemCode', 'refresh', 'introspect');
  it('token values of the wrong type, empty or oversized are InvalidInput (introspect: active:false)', async () => {
    const badValues = [...NOT_STRINGS, ['empty', ''], ['over MAX_TOKEN_LENGTH', 'x'.repeat(MAX_TOKEN_LENGTH + 1)], ['lone surrogate', 'abc\uDC00def']] as const;
    const cases: Case[] = [];
    for (const [label, v] of badValues) {
      cases.push([`validateToken ${label}`, () => m.validateToken(any(v)), InvalidInput]);
      cases.push([`getSessionInfoByToken ${label}`, () => m.getSessionInfoByToken(any(v)), InvalidInput]);
      cases.push([`findToken ${label}`, () => m.findToken(fx.f.sessionId, any(v)), InvalidInput]);
      cases.push([`revokeToken ${label}`, () => m.revokeToken(fx.f.sessionId, any(v)), InvalidInput]);
      cases.push([`redeemCode ${label}`, () => m.redeemCode(any(v), { clientId: 'app' }), InvalidInput]);
      cases.push([`refresh ${label}`, () => m.refresh(any(v), { clientId: 'app' }), InvalidInput]);
      if (v !== undefined) cases.push([`mintToken basedOn ${label}`, () => m.mintToken(fx.f.sessionId, 'access_token', { basedOn: any(v) }), InvalidInput]);
    }
    await check(cases);
    for (const [, v] of badValues) assert.deepEqual(await m.introspect(any(v)), { active: false });
  });

  it('unknown, look-alike and foreign token values are UnknownToken (introspect: active:false; findToken: undefined)', async () => {
    const a = fx.f.access;
    const unknown = [
      ['random', 'abc' + 'Q'.repeat(43)],
      ['shorter than a route', 'ab'],
      ['one character changed', a.slice(0, -1) + (a.endsWith('A') ? 'B' : 'A')],
      ['route changed', (a[0] === 'A' ? 'B' : 'A') + a.slice(1)],
      ['truncated', a.slice(0, -2)],
      ['extended', a + 'x'],
      ['foreign manager', fx.foreignFlow.access],
      ['the hash instead of the value', fx.f.set.accessToken.token.hash],
      ['the token id instead of the value', fx.f.set.accessToken.token.id],
    ] as const;
    const cases: Case[] = [];
    for (const [label, v] of unknown) {
      cases.push([`validateToken ${label}`, () => m.validateToken(v), UnknownToken]);
      cases.push([`getSessionInfoByToken ${label}`, () => m.getSessionInfoByToken(v), UnknownToken]);
      cases.push([`revokeToken ${label}`, () => m.revokeToken(fx.f.sessionId, v), UnknownToken]);
      cases.push([`redeemCode ${label}`, () => m.redeemCode(v, { clientId: 'app' }), UnknownToken]);
      cases.push([`refresh ${label}`, () => m.refresh(v, { clientId: 'app' }), UnknownToken]);
      cases.push([`mintToken basedOn ${label}`, () => m.mintToken(fx.f.sessionId, 'access_token', { basedOn: v }), UnknownToken]);
    }
    await check(cases);
    for (const [, v] of unknown) {
      assert.deepEqual(await m.introspect(v), { active: false });
      assert.equal(await m.findToken(fx.f.sessionId, v), undefined);
    }
  });

  it('another user\'s or grant\'s token through this session id: nothing found, nothing done', async () => {
    await check([
      ['revokeToken', () => m.revokeToken(fx.bob.sessionId, fx.f.access), UnknownToken],
      ['mintToken basedOn', () => m.mintToken(fx.bob.sessionId, 'access_token', { basedOn: fx.f.refresh! }), UnknownToken],
      ['redeemCode by another client', () => m.redeemCode(fx.pkceCode.value, { clientId: 'other', codeVerifier: VERIFIER, redirectUri: REDIRECT }), WrongClient],
      ['refresh by another client', () => m.refresh(fx.f.refresh!, { clientId: 'other' }), WrongClient],
      ['validateToken for another client', () => m.validateToken(fx.f.access, { clientId: 'other' }), WrongClient],
      ['a code is not a refresh token', () => m.refresh(fx.pkceCode.value, { clientId: 'app' }), UnknownToken],
      ['a refresh token is not a code', () => m.redeemCode(fx.f.refresh!, { clientId: 'app' }), UnknownToken],
      ['an access token is not a code', () => m.redeemCode(fx.f.access, { clientId: 'app' }), UnknownToken],
    ]);
    assert.equal(await m.findToken(fx.bob.sessionId, fx.f.access), undefined);
  });

  covers('createSession', 'addGrant');
  it('createSession and addGrant: every malformed field is InvalidInput', async () => {
    const base = { userId: 'carol', authnEvent: {}, authRequest: authRequest('app') };
    const cs = (over: Record<string, unknown>) => () => m.createSession(any({ ...base, ...over }));
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const cases: Case[] = [
      ...NOT_OBJECTS.map(([l, v]) => [`input ${l}`, () => m.createSession(any(v)), InvalidInput] as Case),
      ['input undefined', () => m.createSession(any(undefined)), InvalidInput],
      ...BAD_IDS.map(([l, v]) => [`userId ${l}`, cs({ userId: v }), InvalidInput] as Case),
      ...NOT_OBJECTS.map(([l, v]) => [`authRequest ${l}`, cs({ authRequest: v }), InvalidInput] as Case),
      ['authRequest undefined', cs({ authRequest: undefined }), InvalidInput],
      ...BAD_IDS.filter(([l]) => l !== 'undefined').map(([l, v]) => [`authRequest.client_id ${l}`, cs({ authRequest: { ...authRequest('app'), client_id: v } }), InvalidInput] as Case),
      ['no client id at all', cs({ authRequest: { scope: 'openid' } }), InvalidInput],
      ['clientId ≠ client_id', cs({ clientId: 'other' }), InvalidInput],
      ...BAD_IDS.filter(([l]) => l !== 'undefined').map(([l, v]) => [`clientId ${l}`, cs({ clientId: v, authRequest: { scope: 'openid' } }), InvalidInput] as Case),
      ['subType unknown', cs({ subType: 'weird' }), InvalidInput],
      ['subType number', cs({ subType: 1 }), InvalidInput],
      ['pairwise without sector', cs({ subType: 'pairwise' }), InvalidInput],
      ['sector empty', cs({ subType: 'pairwise', sectorIdentifier: '' }), InvalidInput],
      ['sector number', cs({ subType: 'pairwise', sectorIdentifier: 5 }), InvalidInput],
      ['scopes number', cs({ scopes: 5 }), InvalidInput],
      ['scopes object', cs({ scopes: { openid: true } }), InvalidInput],
      ['scope entry number', cs({ scopes: ['openid', 5] }), InvalidInput],
      ['scope entry empty', cs({ scopes: ['openid', ''] }), InvalidInput],
      ['scope entry with space', cs({ scopes: ['open id'] }), InvalidInput],
      ['scope entry with tab', cs({ scopes: ['open\tid'] }), InvalidInput],
      ['scope entry too long', cs({ scopes: ['s'.repeat(257)] }), InvalidInput],
      ['too many scopes', cs({ scopes: Array.from({ length: 257 }, (_, i) => `s${i}`) }), InvalidInput],
      ['request scope number', cs({ authRequest: { ...authRequest('app'), scope: 7 } }), InvalidInput],
      ['claims not object', cs({ claims: 'email' }), InvalidInput],
      ['claims cyclic', cs({ claims: { userinfo: cyclic } }), InvalidInput],
      ['claims with a function', cs({ claims: { userinfo: { f: () => 1 } } }), InvalidInput],
      ['claims with Infinity', cs({ claims: { userinfo: { n: Infinity } } }), InvalidInput],
      ['claims nested 40 deep', cs({ claims: { userinfo: deep } }), InvalidInput],
      ['authRequest over 64 KiB', cs({ authRequest: { ...authRequest('app'), big: 'x'.repeat(70_000) } }), InvalidInput],
      ['authRequest cyclic', cs({ authRequest: { ...authRequest('app'), c: cyclic } }), InvalidInput],
      ['authRequest with a symbol', cs({ authRequest: { ...authRequest('app'), s: Symbol('s') } }), InvalidInput],
      ['authRequest with a bigint', cs({ authRequest: { ...authRequest('app'), b: 1n } }), InvalidInput],
      ['resources an object', cs({ resources: { rs: true } }), InvalidInput],
      ['resources with number', cs({ resources: [1] }), InvalidInput],
      ['browserSessionId empty', cs({ browserSessionId: '' }), InvalidInput],
      ['browserSessionId too long', cs({ browserSessionId: 'b'.repeat(257) }), InvalidInput],
      ['browserSessionId number', cs({ browserSessionId: 1 }), InvalidInput],
      ['expiresIn 0', cs({ expiresIn: 0 }), InvalidInput],
      ['expiresIn negative', cs({ expiresIn: -1 }), InvalidInput],
      ['expiresIn NaN', cs({ expiresIn: NaN }), InvalidInput],
      ['expiresIn string', cs({ expiresIn: '60' }), InvalidInput],
      ...NOT_OBJECTS.map(([l, v]) => [`authnEvent ${l}`, cs({ authnEvent: v }), InvalidInput] as Case),
      ['authnEvent.userId of someone else', cs({ authnEvent: { userId: 'mallory' } }), InvalidInput],
      ['authnEvent.authnTime string', cs({ authnEvent: { authnTime: 'now' } }), InvalidInput],
      ['authnEvent.validUntil NaN', cs({ authnEvent: { validUntil: NaN } }), InvalidInput],
      ['authnEvent.validFor 0', cs({ authnEvent: { validFor: 0 } }), InvalidInput],
      ['authnEvent.authnInfo too long', cs({ authnEvent: { authnInfo: 'a'.repeat(257) } }), InvalidInput],
      ['authnEvent.amr not list', cs({ authnEvent: { amr: 5 } }), InvalidInput],
      ['tokenUsageRules not object', cs({ tokenUsageRules: [] }), InvalidInput],
      ['tokenUsageRules __proto__ class', cs({ tokenUsageRules: JSON.parse('{"__proto__": {"expiresIn": 5}}') }), InvalidInput],
      ['tokenUsageRules class empty', cs({ tokenUsageRules: { '': {} } }), InvalidInput],
      ['tokenUsageRules rule null', cs({ tokenUsageRules: { access_token: null } }), InvalidInput],
      ['maxUsage 0', cs({ tokenUsageRules: { access_token: { maxUsage: 0 } } }), InvalidInput],
      ['maxUsage 1.5', cs({ tokenUsageRules: { access_token: { maxUsage: 1.5 } } }), InvalidInput],
      ['expiresIn rule negative', cs({ tokenUsageRules: { access_token: { expiresIn: -10 } } }), InvalidInput],
      ['expiresIn rule Infinity', cs({ tokenUsageRules: { access_token: { expiresIn: Infinity } } }), InvalidInput],
      ['expiresIn rule string', cs({ tokenUsageRules: { access_token: { expiresIn: '10' } } }), InvalidInput],
      ['expiresIn rule over 10 years', cs({ tokenUsageRules: { access_token: { expiresIn: 11 * 365 * 86400 } } }), InvalidInput],
      ['supportsMinting not array', cs({ tokenUsageRules: { access_token: { supportsMinting: 'id_token' } } }), InvalidInput],
      ['supportsMinting entry number', cs({ tokenUsageRules: { access_token: { supportsMinting: [1] } } }), InvalidInput],
      ['supportsMinting 33 entries', cs({ tokenUsageRules: { access_token: { supportsMinting: Array.from({ length: 33 }, (_, i) => `c${i}`) } } }), InvalidInput],
      ['new rules for a custom class without supportsMinting is fine, but a bad one is not', cs({ tokenUsageRules: { custom: { expiresIn: 'x' } } }), InvalidInput],
      ...BAD_IDS.map(([l, v]) => [`addGrant userId ${l}`, () => m.addGrant(any(v), 'app'), InvalidInput] as Case),
      ...BAD_IDS.map(([l, v]) => [`addGrant clientId ${l}`, () => m.addGrant('carol', any(v)), InvalidInput] as Case),
      ...NOT_OBJECTS.map(([l, v]) => [`addGrant fields ${l}`, () => m.addGrant('carol', 'app', any(v)), InvalidInput] as Case),
      ['addGrant scope number', () => m.addGrant('carol', 'app', any({ scope: 1 })), InvalidInput],
    ];
    await check(cases);
    assert.deepEqual(Object.keys(Object.prototype), []);
  });

  it('mintToken: bad classes, unknown classes, bad options', async () => {
    const sid = fx.f.sessionId;
    const mint = (cls: unknown, o?: unknown) => () => m.mintToken(sid, any(cls), any(o));
    await check([
      ...BAD_IDS.filter(([l]) => l !== 'over 4096').map(([l, v]) => [`class ${l}`, mint(v), InvalidInput] as Case),
      ['class over 64', mint('c'.repeat(65)), InvalidInput],
      ['unknown class', mint('no_such_class'), MintingNotAllowed],
      ['class __proto__', mint('__proto__'), MintingNotAllowed],
      ['class constructor', mint('constructor'), MintingNotAllowed],
      ['class toString', mint('toString'), MintingNotAllowed],
      ['ID token without jwt configured', mint('id_token'), MintingNotAllowed],
      ...NOT_OBJECTS.map(([l, v]) => [`options ${l}`, mint('access_token', v), InvalidInput] as Case),
      ['scope wider than the grant', mint('access_token', { scope: 'openid admin' }), MintingNotAllowed],
      ['scope wider than the parent', mint('access_token', { basedOn: fx.f.refresh, scope: 'openid offline_access email' }), MintingNotAllowed],
      ['parent may not mint the class', mint('authorization_code', { basedOn: fx.f.refresh }), MintingNotAllowed],
      ['parent used up', mint('access_token', { basedOn: fx.f.code }), MintingNotAllowed],
      ['scope number', mint('access_token', { scope: 3 }), InvalidInput],
      ['usageRules bad', mint('access_token', { usageRules: { maxUsage: -1 } }), InvalidInput],
      ['usageRules null', mint('access_token', { usageRules: null }), InvalidInput],
      ['claims cyclic', mint('access_token', { claims: (() => { const c: Record<string, unknown> = {}; c.c = c; return c; })() }), InvalidInput],
      ['resources bad', mint('access_token', { resources: [null] }), InvalidInput],
      ['browserSessionId empty', mint('access_token', { browserSessionId: '' }), InvalidInput],
      ['codeBinding not object', mint('authorization_code', { codeBinding: 'x' }), InvalidInput],
      ['codeChallenge malformed', mint('authorization_code', { codeBinding: { codeChallenge: 'short', codeChallengeMethod: 'S256' } }), InvalidInput],
      ['codeChallenge without a method', mint('authorization_code', { codeBinding: { codeChallenge: pkceChallenge(VERIFIER) } }), InvalidInput],
      ['codeChallengeMethod unknown', mint('authorization_code', { codeBinding: { codeChallenge: pkceChallenge(VERIFIER), codeChallengeMethod: 'MD5' } }), InvalidInput],
      ['redirectUri number', mint('authorization_code', { codeBinding: { redirectUri: 1 } }), InvalidInput],
      ['nonce empty', mint('authorization_code', { codeBinding: { nonce: '' } }), InvalidInput],
    ]);
  });

  it('redeemCode: bad options, wrong PKCE verifier or redirect URI — and the code stays redeemable', async () => {
    const code = fx.pkceCode.value;
    const redeem = (o: unknown) => () => m.redeemCode(code, any(o));
    await check([
      ['options undefined', redeem(undefined), InvalidInput],
      ...NOT_OBJECTS.map(([l, v]) => [`options ${l}`, redeem(v), InvalidInput] as Case),
      ...BAD_IDS.map(([l, v]) => [`clientId ${l}`, redeem({ clientId: v, codeVerifier: VERIFIER, redirectUri: REDIRECT }), InvalidInput] as Case),
      ['redirectUri number', redeem({ clientId: 'app', codeVerifier: VERIFIER, redirectUri: 1 }), InvalidInput],
      ['codeVerifier number', redeem({ clientId: 'app', codeVerifier: 1, redirectUri: REDIRECT }), InvalidInput],
      ['codeVerifier too long', redeem({ clientId: 'app', codeVerifier: 'v'.repeat(257), redirectUri: REDIRECT }), InvalidInput],
      ['codeVerifier wrong', redeem({ clientId: 'app', codeVerifier: VERIFIER.replace('d', 'e'), redirectUri: REDIRECT }), InvalidInput],
      ['codeVerifier missing', redeem({ clientId: 'app', redirectUri: REDIRECT }), InvalidInput],
      ['codeVerifier malformed', redeem({ clientId: 'app', codeVerifier: 'short', redirectUri: REDIRECT }), InvalidInput],
      ['redirectUri missing', redeem({ clientId: 'app', codeVerifier: VERIFIER }), InvalidInput],
      ['redirectUri different', redeem({ clientId: 'app', codeVerifier: VERIFIER, redirectUri: REDIRECT + '/x' }), InvalidInput],
      ['issue not object', redeem({ clientId: 'app', codeVerifier: VERIFIER, redirectUri: REDIRECT, issue: 'all' }), InvalidInput],
      ['issue.refreshToken string', redeem({ clientId: 'app', codeVerifier: VERIFIER, redirectUri: REDIRECT, issue: { refreshToken: 'yes' } }), InvalidInput],
      ['issue.idToken number', redeem({ clientId: 'app', codeVerifier: VERIFIER, redirectUri: REDIRECT, issue: { idToken: 1 } }), InvalidInput],
    ]);
    const set = await m.redeemCode(code, { clientId: 'app', codeVerifier: VERIFIER, redirectUri: REDIRECT });
    assert.equal((await m.introspect(set.accessToken.value)).active, true);
  });

  it('refresh: bad options and scopes', async () => {
    const rt = fx.f.refresh!;
    const refresh = (o: unknown) => () => m.refresh(rt, any(o));
    await check([
      ['options undefined', refresh(undefined), InvalidInput],
      ...NOT_OBJECTS.map(([l, v]) => [`options ${l}`, refresh(v), InvalidInput] as Case),
      ...BAD_IDS.map(([l, v]) => [`clientId ${l}`, refresh({ clientId: v }), InvalidInput] as Case),
      ['scope number', refresh({ clientId: 'app', scope: 1 }), InvalidInput],
      ['scope with empty entry', refresh({ clientId: 'app', scope: [''] }), InvalidInput],
      ['scope wider', refresh({ clientId: 'app', scope: 'openid offline_access admin' }), MintingNotAllowed],
      ['issue bad', refresh({ clientId: 'app', issue: [] }), InvalidInput],
    ]);
    assert.ok((await m.refresh(rt, { clientId: 'app' })).refreshToken);
  });

  covers('getGrantByResponseType', 'getSidsByUserId', 'getUserInfo', 'listUserSessions', 'logoutUser', 'isBrowserSessionLive', 'endBrowserSession', 'startBrowserSession');
  it('methods taking a user id (and friends): bad ids and options are InvalidInput', async () => {
    const cases: Case[] = [];
    for (const [l, v] of BAD_IDS) {
      cases.push([`getGrantByResponseType user ${l}`, () => m.getGrantByResponseType(any(v), 'app'), InvalidInput]);
      cases.push([`getGrantByResponseType client ${l}`, () => m.getGrantByResponseType('alice', any(v)), InvalidInput]);
      cases.push([`getSidsByUserId ${l}`, () => m.getSidsByUserId(any(v)), InvalidInput]);
      cases.push([`getUserInfo ${l}`, () => m.getUserInfo(any(v)), InvalidInput]);
      cases.push([`listUserSessions ${l}`, () => m.listUserSessions(any(v)), InvalidInput]);
      cases.push([`logoutUser ${l}`, () => m.logoutUser(any(v)), InvalidInput]);
      cases.push([`isBrowserSessionLive user ${l}`, () => m.isBrowserSessionLive(any(v), fx.bs), InvalidInput]);
      cases.push([`isBrowserSessionLive bs ${l}`, () => m.isBrowserSessionLive('alice', any(v)), InvalidInput]);
      cases.push([`endBrowserSession user ${l}`, () => m.endBrowserSession(any(v), fx.bs), InvalidInput]);
      cases.push([`endBrowserSession bs ${l}`, () => m.endBrowserSession('alice', any(v)), InvalidInput]);
      cases.push([`startBrowserSession user ${l}`, () => m.startBrowserSession(any(v), { validFor: 60 }), InvalidInput]);
      cases.push([`grants target userId ${l}`, () => m.grants(any({ userId: v })), InvalidInput]);
    }
    cases.push(
      ['getGrantByResponseType responseType empty', () => m.getGrantByResponseType('alice', 'app', ''), InvalidInput],
      ['getGrantByResponseType responseType number', () => m.getGrantByResponseType('alice', 'app', any(5)), InvalidInput],
      ['getGrantByResponseType responseType too long', () => m.getGrantByResponseType('alice', 'app', 'c'.repeat(257)), InvalidInput],
      ...NOT_OBJECTS.map(([l, v]) => [`logoutUser options ${l}`, () => m.logoutUser('alice', any(v)), InvalidInput] as Case),
      ['logoutUser keepOffline string', () => m.logoutUser('alice', any({ keepOffline: 'yes' })), InvalidInput],
      ['startBrowserSession options undefined', () => m.startBrowserSession('alice', any(undefined)), InvalidInput],
      ...NOT_OBJECTS.map(([l, v]) => [`startBrowserSession options ${l}`, () => m.startBrowserSession('alice', any(v)), InvalidInput] as Case),
      ['startBrowserSession validFor 0', () => m.startBrowserSession('alice', { validFor: 0 }), InvalidInput],
      ['startBrowserSession validFor string', () => m.startBrowserSession('alice', any({ validFor: '60' })), InvalidInput],
      ['startBrowserSession validFor Infinity', () => m.startBrowserSession('alice', { validFor: Infinity }), InvalidInput],
      ['startBrowserSession id empty', () => m.startBrowserSession('alice', { validFor: 60, id: '' }), InvalidInput],
      ['startBrowserSession id too long', () => m.startBrowserSession('alice', { validFor: 60, id: 'b'.repeat(257) }), InvalidInput],
      ['startBrowserSession id number', () => m.startBrowserSession('alice', any({ validFor: 60, id: 7 })), InvalidInput],
      ...NOT_OBJECTS.filter(([l]) => l !== 'string').map(([l, v]) => [`grants target ${l}`, () => m.grants(any(v)), InvalidInput] as Case),
      ['grants target string that is no session id', () => m.grants('alice'), InvalidSessionId],
      ['grants target clientId number', () => m.grants(any({ userId: 'alice', clientId: 5 })), InvalidInput],
    );
    await check(cases);
  });

  covers('getSessionInfo', 'getSessionInfoByToken', 'revokeToken', 'validateToken', 'introspect', 'purgeExpired', 'dump', 'load', 'sidFor', 'subjectFor', 'logoutNotices', 'sessionIdOf');
  it('option objects of every other method: wrong types are InvalidInput', async () => {
    const v = fx.f.access;
    await check([
      ...NOT_OBJECTS.map(([l, o]) => [`getSessionInfo include ${l}`, () => m.getSessionInfo(fx.f.sessionId, any(o)), InvalidInput] as Case),
      ...NOT_OBJECTS.map(([l, o]) => [`getSessionInfoByToken include ${l}`, () => m.getSessionInfoByToken(v, any(o)), InvalidInput] as Case),
      ...NOT_OBJECTS.map(([l, o]) => [`revokeToken options ${l}`, () => m.revokeToken(fx.f.sessionId, v, any(o)), InvalidInput] as Case),
      ['revokeToken recursive string', () => m.revokeToken(fx.f.sessionId, v, any({ recursive: 'yes' })), InvalidInput],
      ...NOT_OBJECTS.map(([l, o]) => [`validateToken options ${l}`, () => m.validateToken(v, any(o)), InvalidInput] as Case),
      ['validateToken tokenClass number', () => m.validateToken(v, any({ tokenClass: 1 })), InvalidInput],
      ['validateToken tokenClass empty', () => m.validateToken(v, { tokenClass: '' }), InvalidInput],
      ['validateToken clientId number', () => m.validateToken(v, any({ clientId: 1 })), InvalidInput],
      ...NOT_OBJECTS.map(([l, o]) => [`introspect options ${l}`, () => m.introspect(v, any(o)), InvalidInput] as Case),
      ['introspect clientId number', () => m.introspect(v, any({ clientId: 1 })), InvalidInput],
      ...NOT_OBJECTS.map(([l, o]) => [`purgeExpired options ${l}`, () => m.purgeExpired(any(o)), InvalidInput] as Case),
      ...[0, -1, 1.5, NaN, Infinity, '10'].map((l) => [`purgeExpired limit ${String(l)}`, () => m.purgeExpired(any({ limit: l })), InvalidInput] as Case),
      ...BAD_IDS.map(([l, x]) => [`sidFor browser session ${l}`, () => m.sidFor(any(x), 'app'), InvalidInput] as Case),
      ...BAD_IDS.map(([l, x]) => [`sidFor client ${l}`, () => m.sidFor('bs', any(x)), InvalidInput] as Case),
      ...BAD_IDS.map(([l, x]) => [`subjectFor userId ${l}`, () => m.subjectFor(any(x)), InvalidInput] as Case),
      ...NOT_OBJECTS.map(([l, o]) => [`subjectFor options ${l}`, () => m.subjectFor('alice', any(o)), InvalidInput] as Case),
      ...['ephemeral', '__proto__', 'Public', 1].map((t) => [`subjectFor subType ${String(t)}`, () => m.subjectFor('alice', any({ subType: t })), InvalidInput] as Case),
      ['subjectFor pairwise without sector', () => m.subjectFor('alice', { subType: 'pairwise' }), InvalidInput],
      ...BAD_IDS.map(([l, x]) => [`subjectFor sectorIdentifier ${l}`, () => m.subjectFor('alice', any({ subType: 'pairwise', sectorIdentifier: x })), InvalidInput] as Case),
      ['logoutNotices grants null', () => m.logoutNotices(any(null), []), InvalidInput],
      ['logoutNotices grants [null]', () => m.logoutNotices(any([null]), []), InvalidInput],
      ['logoutNotices grants [{}]', () => m.logoutNotices(any([{}]), []), InvalidInput],
      ['logoutNotices ids null', () => m.logoutNotices([], any(null)), InvalidInput],
      ['logoutNotices ids [1]', () => m.logoutNotices([], any([1])), InvalidInput],
      ...NOT_OBJECTS.map(([l, o]) => [`sessionIdOf ${l}`, () => m.sessionIdOf(any(o)), InvalidInput] as Case),
      ['sessionIdOf undefined', () => m.sessionIdOf(any(undefined)), InvalidInput],
      ...BAD_IDS.map(([l, x]) => [`sessionIdOf userId ${l}`, () => m.sessionIdOf(any({ userId: x })), InvalidInput] as Case),
      ['sessionIdOf clientId empty', () => m.sessionIdOf({ userId: 'u', clientId: '' }), InvalidInput],
      ['sessionIdOf grant without client', () => m.sessionIdOf({ userId: 'u', grantId: 'g' }), InvalidInput],
      ['sessionIdOf grantId number', () => m.sessionIdOf(any({ userId: 'u', clientId: 'c', grantId: 1 })), InvalidInput],
    ]);
  });

  it('options are read from their own properties only: an inherited option, or one a polluted Object.prototype supplies, is never read', async () => {
    const boundCode = await m.mintToken(fx.pkceSid, 'authorization_code', { codeBinding: { redirectUri: REDIRECT } });
    // Inherited: a parent object's options are not the caller's.
    await check([
      ['redeemCode options inherited', () => m.redeemCode(boundCode.value, Object.create({ clientId: 'app', redirectUri: REDIRECT })), InvalidInput],
      ['createSession input inherited', () => m.createSession(Object.create({ userId: 'alice', authnEvent: {}, authRequest: authRequest('app') })), InvalidInput],
    ]);
    const inheritedValidate = Object.create({ tokenClass: 'id_token', clientId: 'evil' }) as { tokenClass?: 'access_token' };
    assert.equal((await m.validateToken(fx.f.access, inheritedValidate)).userId, 'alice', 'inherited validate options were read');
    const inheritedConfig = new SessionManager(Object.assign(Object.create({ grantLifetime: 60 }), { secrets: SECRETS, logger: { warn: () => {} }, clock: clock.read }));
    const g = (await inheritedConfig.getSessionInfo(await newSession(inheritedConfig, 'alice', 'app'), { grant: true })).grant!;
    assert.equal(g.expiresAt - g.issuedAt, 14 * 86400 * 1000, 'grantLifetime was inherited');
    // Gadgets: options the caller left out, supplied by a polluted Object.prototype.
    const gadgets: Array<[string, unknown]> = [
      ['redirectUri', REDIRECT],
      ['codeVerifier', VERIFIER],
      ['keepOffline', true],
      ['refreshToken', false],
      ['clientId', 'evil'],
      ['tokenClass', 'id_token'],
    ];
    for (const [k, v] of gadgets) Object.defineProperty(Object.prototype, k, { value: v, configurable: true, writable: true });
    try {
      // A code bound to a PKCE challenge and a redirect URI, redeemed without verifier or URI.
      await check([
        ['redeemCode without redirectUri and verifier', () => m.redeemCode(fx.pkceCode.value, { clientId: 'app' }), InvalidInput],
        ['redeemCode without redirectUri', () => m.redeemCode(boundCode.value, { clientId: 'app' }), InvalidInput],
      ]);
      assert.equal((await m.validateToken(fx.f.access)).userId, 'alice', 'validate options came from Object.prototype');
      assert.equal((await m.introspect(fx.f.access)).active, true, 'introspect options came from Object.prototype');
      const set = await m.redeemCode(boundCode.value, { clientId: 'app', redirectUri: REDIRECT });
      assert.ok(Object.hasOwn(set, 'refreshToken'), 'issue.refreshToken came from Object.prototype');
      // logoutUser without options means keepOffline: false.
      await m.logoutUser('alice');
      assert.equal((await m.introspect(set.refreshToken!.value)).active, false, 'keepOffline came from Object.prototype');
    } finally {
      for (const [k] of gadgets) delete (Object.prototype as Record<string, unknown>)[k];
    }
  });

  it('load: malformed dumps are InvalidInput and load nothing', async () => {
    const good = JSON.parse(JSON.stringify(await m.dump()));
    const fresh = makeManager(undefined, clock);
    const tweak = (f: (d: typeof good) => void) => {
      const d = structuredClone(good);
      f(d);
      return d;
    };
    const bad: Array<[string, unknown]> = [
      ['undefined', undefined],
      ['null', null],
      ['array', []],
      ['string', JSON.stringify(good)],
      ['version 2', tweak((d) => (d.version = 2))],
      ['users not array', tweak((d) => (d.users = {}))],
      ['grants missing', tweak((d) => delete d.grants)],
      ['user id empty', tweak((d) => (d.users[0].userId = ''))],
      ['user epoch string', tweak((d) => (d.users[0].epoch = '1'))],
      ['browser session key mismatch', tweak((d) => (d.users[0].browserSessions = { a: { id: 'b', createdAt: 1, expiresAt: 2, epoch: 0 } }))],
      ['client revoked string', tweak((d) => (d.clients[0].revoked = 'no'))],
      ['grant subType', tweak((d) => (d.grants[0].subType = 'x'))],
      ['grant scope string entries with spaces', tweak((d) => (d.grants[0].scope = ['a b']))],
      ['grant usageRules __proto__', tweak((d) => (d.grants[0].usageRules = JSON.parse('{"__proto__":{"supportsMinting":[]}}')))],
      ['grant authRequest too big', tweak((d) => (d.grants[0].authRequest = { x: 'x'.repeat(70_000) }))],
      ['token used NaN-ish', tweak((d) => (d.tokens[0].used = null))],
      ['token class empty', tweak((d) => (d.tokens[0].class = ''))],
      ['token hash too long', tweak((d) => (d.tokens[0].hash = 'h'.repeat(129)))],
      ['token usageRules missing', tweak((d) => delete d.tokens[0].usageRules)],
      ['token codeBinding method', tweak((d) => (d.tokens[0].codeBinding = { codeChallengeMethod: 'MD5' }))],
      ['marker usedAt string', tweak((d) => (d.markers[0].usedAt = 'then'))],
      ['proto-polluting user', JSON.parse(JSON.stringify(good).replace('"users":[', '"users":[{"__proto__":{"polluted":true}},'))],
      // Holes (a JSON reviver or a hand-built dump can leave them): after valid entries, so a
      // load that wrote as it went would have written those.
      ['tokens with holes', tweak((d) => (d.tokens = [...d.tokens, , ,]))],
      ['users with a hole', tweak((d) => (d.users = [...d.users, , ...d.users]))],
      ['markers new Array(3)', tweak((d) => (d.markers = new Array(3)))],
      ['grants that are a Proxy', tweak((d) => (d.grants = new Proxy(d.grants, {})))],
      ['clients of an Array subclass', tweak((d) => (d.clients = Object.setPrototypeOf(d.clients, (class extends Array {}).prototype)))],
    ];
    for (const [label, data] of bad) {
      let err: unknown;
      try {
        await fresh.load(data);
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof InvalidInput, `${label}: ${(err as Error)?.name} ${(err as Error)?.message}`);
    }
    assert.deepEqual((await fresh.dump()).users, []);
    assert.deepEqual(await m.dump(), good, 'dump() returns plain JSON equal to its serialisation');
  });

  it('error messages never contain token values, session ids or user ids', async () => {
    const secretish = [fx.f.access, fx.f.refresh!, fx.f.code, fx.f.sessionId, 'alice'];
    const errors: Error[] = [];
    const grab = async (p: Promise<unknown>) => p.then(() => undefined, (e: Error) => errors.push(e));
    await grab(m.validateToken(fx.f.code));
    await grab(m.redeemCode(fx.f.code, { clientId: 'other' }));
    await grab(m.refresh(fx.f.refresh!, { clientId: 'other' }));
    await grab(m.getSessionInfo(fx.f.sessionId + 'A'));
    await grab(m.revokeToken(fx.bob.sessionId, fx.f.access));
    await grab(m.getUserInfo('alice-unknown'));
    assert.equal(errors.length, 6);
    for (const e of errors) for (const s of secretish) assert.ok(!e.message.includes(s) && !String(e.stack).split('\n')[0]!.includes(s), `${e.name}: ${e.message}`);
  });
});

describe('bad configuration is InvalidInput at construction, never a TypeError later', () => {
  it('options, secrets and key ring entries of the wrong shape', async () => {
    const bad: unknown[] = [
      null,
      [],
      { secrets: 'x' },
      { secrets: { sessionIdKeys: [null], subjectSalt: Buffer.alloc(32) } },
      { secrets: { sessionIdKeys: new Array(2), subjectSalt: Buffer.alloc(32) } },
      { clock: 'now' },
    ];
    for (const o of bad) assert.throws(() => new SessionManager(o as never), InvalidInput, JSON.stringify(o));
  });

  it('an unset secret (an environment variable not exported) is named as missing, not as too short', () => {
    const unset = process.env.OIDC_SESSIONS_TEST_UNSET_VARIABLE;
    assert.throws(
      () => new SessionManager({ secrets: { sessionIdKeys: [{ kid: 'k', key: unset! }], subjectSalt: Buffer.alloc(32, 2) } }),
      { name: 'InvalidInput', message: /^secrets\.sessionIdKeys\[0\]\.key is missing/ },
    );
    assert.throws(
      () => new SessionManager({ secrets: { sessionIdKeys: [{ kid: 'k', key: Buffer.alloc(32, 1) }], subjectSalt: unset! } }),
      { name: 'InvalidInput', message: /^secrets\.subjectSalt is missing/ },
    );
    assert.throws(
      () => new SessionManager({ secrets: { sessionIdKeys: [{ kid: 'k', key: 'c2hvcnQ' }], subjectSalt: Buffer.alloc(32, 2) } }),
      { name: 'InvalidInput', message: /^secrets\.sessionIdKeys\[0\]\.key must be at least 32 bytes/ },
    );
  });

  it('a logger without warn, a store without the SessionStore methods, and lifetimes past the token bound (10 years)', async () => {
    const secrets = { sessionIdKeys: [{ kid: 'k', key: Buffer.alloc(32, 1) }], subjectSalt: Buffer.alloc(32, 2) };
    const quiet = { warn: () => {} };
    const { load: _load, ...storeWithoutLoad } = Object.fromEntries(
      Object.getOwnPropertyNames(MemoryStore.prototype).filter((k) => k !== 'constructor').map((k) => [k, () => undefined]),
    );
    const tenYears = 10 * 365 * 86400;
    const bad: Array<[string, unknown]> = [
      ['logger {} (no secrets: it would warn)', { logger: {} }],
      ['logger {} (secrets: it never warns, still refused)', { secrets, logger: {} }],
      ['logger null', { secrets, logger: null }],
      ['logger.warn a string', { secrets, logger: { warn: 'x' } }],
      ['store {}', { secrets, logger: quiet, store: {} }],
      ['store null', { secrets, logger: quiet, store: null }],
      ['store a string', { secrets, logger: quiet, store: 'redis' }],
      ['store without load', { secrets, logger: quiet, store: storeWithoutLoad }],
      ['grantLifetime 1e306', { secrets, logger: quiet, grantLifetime: 1e306 }],
      ['grantLifetime 1e13', { secrets, logger: quiet, grantLifetime: 1e13 }],
      ['grantLifetime just over 10 years', { secrets, logger: quiet, grantLifetime: tenYears + 1 }],
      ['refresh.absoluteLifetime 1e306', { secrets, logger: quiet, refresh: { absoluteLifetime: 1e306 } }],
      ['refresh.absoluteLifetime just over 10 years', { secrets, logger: quiet, refresh: { absoluteLifetime: tenYears + 1 } }],
      ['refresh.graceSeconds 1e306', { secrets, logger: quiet, refresh: { graceSeconds: 1e306 } }],
    ];
    for (const [label, o] of bad) assert.throws(() => new SessionManager(o as never), InvalidInput, label);
    // The bound itself is allowed, and a store of the right shape (here: the real one) is taken.
    const m = new SessionManager({ secrets, logger: quiet, store: new MemoryStore(), grantLifetime: tenYears, refresh: { absoluteLifetime: tenYears } });
    const sid = await m.createSession({ userId: 'u', authnEvent: {}, authRequest: { client_id: 'c' } });
    const d = JSON.parse(JSON.stringify(await m.dump()));
    await new SessionManager({ secrets, logger: quiet }).load(d);
    // The same bound for the lifetimes given per call (seconds).
    await assert.rejects(m.createSession({ userId: 'u', authnEvent: {}, authRequest: { client_id: 'c' }, expiresIn: 1e306 }), InvalidInput);
    await assert.rejects(m.createSession({ userId: 'u', authnEvent: { validFor: 1e306 }, authRequest: { client_id: 'c' } }), InvalidInput);
    await assert.rejects(m.startBrowserSession('u', { validFor: 1e306 }), InvalidInput);
    assert.equal((await m.grants(sid)).length, 1, 'nothing was written by the refused calls');
  });

  it('a jwt option whose alg does not fit its key, or that is malformed, is refused up front', async () => {
    const ec256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const ed = generateKeyPairSync('ed25519').privateKey;
    const secrets = { sessionIdKeys: [{ kid: 'k', key: Buffer.alloc(32, 1) }], subjectSalt: Buffer.alloc(32, 2) };
    const bad: unknown[] = [
      true,
      'x',
      {},
      { issuer: 'https://op.example', alg: 'RS256', privateKey: ec256 },
      { issuer: 'https://op.example', alg: 'HS256', privateKey: ec256 },
      { issuer: 'https://op.example', alg: 'none', privateKey: ec256 },
      { issuer: 'https://op.example', alg: 'ES384', privateKey: ec256 },
      { issuer: 'https://op.example', alg: 'ES256', privateKey: ed },
      { issuer: 'https://op.example', alg: 'ES256', privateKey: 'pem' },
      { issuer: 'https://op.example', alg: 'ES256', privateKey: Buffer.alloc(32) },
      { issuer: '', alg: 'ES256', privateKey: ec256 },
    ];
    for (const jwt of bad) assert.throws(() => new SessionManager({ secrets, jwt: jwt as never, logger: { warn: () => {} } }), InvalidInput, String(JSON.stringify(jwt)));
    // The fitting pairs construct, and sign.
    for (const [alg, privateKey] of [['ES256', ec256], ['EdDSA', ed]] as const) {
      const m = new SessionManager({ secrets, jwt: { issuer: 'https://op.example', alg, privateKey } });
      const sid = await m.createSession({ userId: 'u', authnEvent: {}, authRequest: { client_id: 'c', scope: 'openid' } });
      const code = await m.mintToken(sid, 'authorization_code');
      assert.ok((await m.redeemCode(code.value, { clientId: 'c' })).idToken);
    }
  });

  it('a clock that returns a non-finite time fails the call with InvalidInput instead of minting tokens that never expire', async () => {
    const m = new SessionManager({ clock: () => NaN, logger: { warn: () => {} } });
    await assert.rejects(m.createSession({ userId: 'u', authnEvent: {}, authRequest: { client_id: 'c' } }), InvalidInput);
  });

  it('logoutNotices refuses a sparse array', async () => {
    const m = new SessionManager({ logger: { warn: () => {} } });
    assert.throws(() => m.logoutNotices(new Array(2), []), InvalidInput);
  });
});

describe('a revoked Proxy anywhere in the input is InvalidInput, not a TypeError', () => {
  it('as options, input, authRequest, a nested authRequest value, scopes, token classes and notice lists', async () => {
    const m = new SessionManager({ logger: { warn: () => {} } });
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy as never;
    };
    const sid = await m.createSession({ userId: 'alice', authRequest: { client_id: 'app', scope: 'openid' }, authnEvent: {} });
    const access = (await m.mintToken(sid, 'access_token')).value;
    const calls: Array<[string, () => unknown]> = [
      ['validateToken options', () => m.validateToken(access, revoked())],
      ['introspect options', () => m.introspect(access, revoked())],
      ['introspect tokenClasses', () => m.introspect(access, { tokenClasses: revoked() })],
      ['createSession input', () => m.createSession(revoked())],
      ['createSession authRequest', () => m.createSession({ userId: 'alice', authRequest: revoked(), authnEvent: {} })],
      ['createSession authRequest value', () => m.createSession({ userId: 'alice', authRequest: { client_id: 'app', x: revoked() }, authnEvent: {} })],
      ['createSession scopes', () => m.createSession({ userId: 'alice', authRequest: { client_id: 'app' }, authnEvent: {}, scopes: revoked() })],
      ['mintToken options', () => m.mintToken(sid, 'access_token', revoked())],
      ['logoutNotices grants', () => m.logoutNotices(revoked(), [])],
      ['logoutNotices browserSessionIds', () => m.logoutNotices([], revoked())],
    ];
    for (const [label, call] of calls) {
      await assert.rejects(async () => call(), { name: 'InvalidInput' }, label);
    }
    assert.equal((await m.validateToken(access)).userId, 'alice', 'nothing was changed by the refused calls');
  });
});
