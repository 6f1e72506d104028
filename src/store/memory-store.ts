/**
 * The embedded store: the whole tree in `Map`s inside this process (SPEC §6).
 *
 * Every method runs as one synchronous block (no `await` between a check and its write), so
 * each is atomic with respect to every other call in the process. Records are frozen when
 * written and replaced, never edited, so a record handed to a caller can't change the tree.
 * Expired records go three ways: pruned on each write to their grant (bounded work, see
 * `grant-records.ts`), swept by {@link MemoryStore.purgeExpired} (bounded work per call), and
 * ignored meanwhile by the activity rule.
 */
import type {
  BrowserSessionRecord,
  ClientRecord,
  GrantContext,
  GrantRecord,
  ReuseMarker,
  TokenRecord,
  UserRecord,
} from '../tree/records.js';
import type {
  ClientView,
  ConsumeRequest,
  ConsumeResult,
  GrantPath,
  LogoutResult,
  NodePath,
  SessionStore,
  TokenLookup,
  TreeDump,
  UserView,
} from './store.js';
import { InvalidInput } from '../errors.js';
import { collectDescendants } from '../tree/lineage.js';
import {
  browserSessionRecord,
  clientRecord,
  grantRecord,
  markerRecord,
  reuseMarker,
  tokenRecord,
  userRecord,
} from '../tree/record-layout.js';
import {
  addRecord,
  allRecords,
  countRecords,
  EMPTY_RECORDS,
  getRecord,
  isMarker,
  pruneRecords,
  removeRecord,
  replaceRecord,
  retireRecord,
  type GrantRecordEntry,
  type RecordSet,
} from './grant-records.js';

interface UserEntry {
  user: UserRecord;
  readonly route: string;
  readonly clients: Map<string, ClientEntry>;
}
interface ClientEntry {
  client: ClientRecord;
  readonly grants: Map<string, GrantEntry>;
}
interface GrantEntry {
  grant: GrantRecord;
  /** Creation order: breaks ties between grants issued in the same millisecond (B-29). */
  readonly seq: number;
  readonly u: UserEntry;
  readonly c: ClientEntry;
  /** Live tokens and the reuse markers of used-up ones, by hash (see grant-records.ts). */
  records: RecordSet;
}

export class MemoryStore implements SessionStore {
  readonly #users = new Map<string, UserEntry>();
  /** Token and marker hashes → the grant holding the record. */
  readonly #byHash = new Map<string, GrantEntry>();
  #sweep: Iterator<boolean> | undefined;
  /** The clock value of the current purge call; the resumable sweep reads it at every step. */
  #sweepNow = 0;
  #grantSeq = 0;

  async createGrant(route: string, grant: GrantRecord, now: number): Promise<void> {
    const u = this.#userEntry(route, grant.userId, now);
    let c = u.clients.get(grant.clientId);
    if (!c) {
      c = { client: clientRecord(u.user.userId, grant.clientId, false, now), grants: new Map() };
      u.clients.set(grant.clientId, c);
    } else if (c.client.revoked) {
      c.client = clientRecord(c.client.userId, c.client.clientId, false, now);
    }
    c.grants.set(grant.id, { grant: stored(grant, grantRecord), seq: ++this.#grantSeq, u, c, records: EMPTY_RECORDS });
  }

  async getUser(_route: string, userId: string): Promise<UserView | undefined> {
    const u = this.#users.get(userId);
    return u && { user: u.user, clientIds: [...u.clients.keys()] };
  }

  async getClient(_route: string, userId: string, clientId: string): Promise<ClientView | undefined> {
    const c = this.#users.get(userId)?.clients.get(clientId);
    return c && { user: this.#users.get(userId)!.user, client: c.client, grantIds: [...c.grants.keys()] };
  }

  async getGrant(path: GrantPath): Promise<GrantContext | undefined> {
    const g = this.#grantEntry(path);
    return g && ctx(g);
  }

  async listGrants(_route: string, userId: string, clientId?: string): Promise<GrantContext[]> {
    const u = this.#users.get(userId);
    if (!u) return [];
    const clients = clientId === undefined ? [...u.clients.values()] : [u.clients.get(clientId)].filter((c) => c !== undefined);
    const entries: GrantEntry[] = [];
    for (const c of clients) for (const g of c.grants.values()) entries.push(g);
    // Newest first; grants of the same millisecond by creation order, so "newest" is never the older one (B-29).
    entries.sort((a, b) => b.grant.issuedAt - a.grant.issuedAt || b.seq - a.seq);
    return entries.map(ctx);
  }

  async listTokens(path: GrantPath): Promise<TokenRecord[]> {
    const g = this.#grantEntry(path);
    if (!g) return [];
    return liveTokens(g);
  }

  async findToken(_route: string, hash: string): Promise<TokenLookup | undefined> {
    return this.findTokenNow(hash);
  }

  findTokenNow(hash: string): TokenLookup | undefined {
    const g = this.#byHash.get(hash);
    const r = g && getRecord(g.records, hash);
    if (!r) return undefined;
    const { user } = g!.u;
    const { client } = g!.c;
    return isMarker(r) ? { user, client, grant: g!.grant, marker: r } : { user, client, grant: g!.grant, token: r };
  }

  async addTokens(path: GrantPath, tokens: readonly TokenRecord[]): Promise<boolean> {
    const g = this.#grantEntry(path);
    if (!g) return false;
    this.#insertTokens(g, tokens);
    return true;
  }

  async consume(_route: string, hash: string, req: ConsumeRequest): Promise<ConsumeResult> {
    const g = this.#byHash.get(hash);
    const token = g && getRecord(g.records, hash);
    if (!g || !token) return { status: 'unknown' };
    if (isMarker(token)) {
      // graceMs 0 disables the window (SPEC §5), also for a reuse in the same millisecond.
      if (req.graceMs > 0 && req.now - token.usedAt <= req.graceMs) return { status: 'reused', revoked: 'nothing' };
      return { status: 'reused', revoked: this.#applyReuse(g, token.tokenId, token.familyId, req.onReuse) };
    }
    if (token.id !== req.tokenId) return { status: 'unknown' };
    if (token.revoked) return { status: 'revoked' };
    const max = token.usageRules.maxUsage;
    if (max !== undefined && token.used >= max) {
      return { status: 'reused', revoked: this.#applyReuse(g, token.id, token.familyId, req.onReuse) };
    }
    const used = token.used + 1;
    if (max !== undefined && used >= max) {
      // Used up: keep only a marker, so the grant's index holds live tokens only (fault 18).
      g.records = this.#prune(retireRecord(g.records, reuseMarker(token, req.now)), req.now);
    } else {
      g.records = replaceRecord(g.records, tokenRecord(token, { used, usedAt: req.now, revoked: token.revoked }));
    }
    this.#insertTokens(g, req.mint);
    return { status: 'ok' };
  }

  async revokeGrant(path: GrantPath): Promise<boolean> {
    const g = this.#grantEntry(path);
    if (!g) return false;
    g.grant = grantRecord(g.grant, true);
    return true;
  }

  async revokeClient(_route: string, userId: string, clientId: string): Promise<boolean> {
    const c = this.#users.get(userId)?.clients.get(clientId);
    if (!c) return false;
    revokeClientEntry(c);
    return true;
  }

  async revokeToken(path: GrantPath, tokenId: string): Promise<number> {
    const g = this.#grantEntry(path);
    if (!g) return 0;
    // A rotated-out refresh token lives on only as a reuse marker, but its successor was minted
    // from it: revoking it must reach its rotation family, as revoking a live member does.
    const families: string[] = [];
    for (const r of allRecords(g.records)) {
      if (isMarker(r) && r.tokenId === tokenId && r.class === 'refresh_token' && r.familyId !== undefined) families.push(r.familyId);
    }
    return this.#revokeDescendants(g, [tokenId], families);
  }

  async logoutUser(_route: string, userId: string, opts: { keepOffline: boolean; now: number }): Promise<LogoutResult | undefined> {
    const u = this.#users.get(userId);
    if (!u) return undefined;
    const grants: GrantContext[] = [];
    for (const c of u.clients.values()) for (const g of c.grants.values()) grants.push(ctx(g));
    const browserSessionIds = Object.keys(u.user.browserSessions);
    u.user = userRecord(u.user.userId, u.user.epoch + 1, NO_BROWSER_SESSIONS, u.user.createdAt);
    if (!opts.keepOffline) for (const c of u.clients.values()) revokeClientEntry(c);
    return { grants, browserSessionIds };
  }

  async addBrowserSession(route: string, userId: string, session: BrowserSessionRecord): Promise<UserRecord> {
    const u = this.#userEntry(route, userId, session.createdAt);
    const live = Object.entries(u.user.browserSessions).filter(([, s]) => s.expiresAt > session.createdAt);
    // fromEntries defines own properties: an id such as `__proto__` stays a plain key.
    live.push([session.id, browserSessionRecord(session, u.user.epoch)]);
    u.user = userRecord(u.user.userId, u.user.epoch, freeze(Object.fromEntries(live)), u.user.createdAt);
    return u.user;
  }

  async removeBrowserSession(_route: string, userId: string, browserSessionId: string): Promise<boolean> {
    const u = this.#users.get(userId);
    if (!u || !Object.hasOwn(u.user.browserSessions, browserSessionId)) return false;
    const rest = { ...u.user.browserSessions };
    delete rest[browserSessionId];
    u.user = userRecord(u.user.userId, u.user.epoch, freeze(rest), u.user.createdAt);
    return true;
  }

  async remove(path: NodePath): Promise<boolean> {
    const u = this.#users.get(path.userId);
    if (!u) return false;
    if (path.clientId === undefined) {
      for (const c of u.clients.values()) for (const g of c.grants.values()) this.#dropHashes(g);
      this.#users.delete(path.userId);
      return true;
    }
    const c = u.clients.get(path.clientId);
    if (!c) return false;
    if (path.grantId === undefined) {
      for (const g of c.grants.values()) this.#dropHashes(g);
      u.clients.delete(path.clientId);
      return true;
    }
    const g = c.grants.get(path.grantId);
    if (!g) return false;
    this.#dropHashes(g);
    c.grants.delete(path.grantId);
    return true;
  }

  async purgeExpired(now: number, limit: number): Promise<number> {
    let removed = 0;
    let visited = 0;
    this.#sweepNow = now;
    if (!this.#sweep) this.#sweep = this.#sweepSteps();
    while (visited < limit) {
      const step = this.#sweep.next();
      if (step.done) {
        this.#sweep = undefined;
        break;
      }
      visited++;
      if (step.value === true) removed++;
    }
    return removed;
  }

  async dump(): Promise<TreeDump> {
    const users: UserRecord[] = [];
    const clients: ClientRecord[] = [];
    const grants: GrantRecord[] = [];
    const tokens: TokenRecord[] = [];
    const markers: ReuseMarker[] = [];
    for (const u of this.#users.values()) {
      users.push(u.user);
      for (const c of u.clients.values()) {
        clients.push(c.client);
        for (const g of c.grants.values()) {
          grants.push(g.grant);
          for (const r of allRecords(g.records)) (isMarker(r) ? markers : tokens).push(r as ReuseMarker & TokenRecord);
        }
      }
    }
    return { version: 1, users, clients, grants, tokens, markers };
  }

  async load(data: TreeDump, routeOf: (userId: string) => string): Promise<void> {
    // All that can fail (reading the caller's records, routeOf) happens before the first write,
    // on copies: a load that throws leaves the store as it was.
    data = {
      version: 1,
      users: loadList(data.users, 'users'),
      clients: loadList(data.clients, 'clients'),
      grants: loadList(data.grants, 'grants'),
      tokens: loadList(data.tokens, 'tokens'),
      markers: loadList(data.markers, 'markers'),
    };
    const routes = data.users.map((user) => routeOf(user.userId));
    for (const [i, user] of data.users.entries()) {
      const route = routes[i]!;
      const existing = this.#users.get(user.userId);
      const record = stored(user, (x) => userRecord(x.userId, x.epoch, x.browserSessions, x.createdAt));
      if (existing) existing.user = record;
      else this.#users.set(user.userId, { user: record, route, clients: new Map() });
    }
    for (const client of data.clients) {
      const u = this.#users.get(client.userId);
      if (!u) continue;
      const c = u.clients.get(client.clientId);
      const record = stored(client, (x) => clientRecord(x.userId, x.clientId, x.revoked, x.createdAt));
      if (c) c.client = record;
      else u.clients.set(client.clientId, { client: record, grants: new Map() });
    }
    for (const grant of data.grants) {
      const u = this.#users.get(grant.userId);
      const c = u?.clients.get(grant.clientId);
      if (!u || !c) continue;
      const g = c.grants.get(grant.id);
      if (g) g.grant = stored(grant, grantRecord);
      else c.grants.set(grant.id, { grant: stored(grant, grantRecord), seq: ++this.#grantSeq, u, c, records: EMPTY_RECORDS });
    }
    for (const token of data.tokens) {
      const g = this.#users.get(token.userId)?.clients.get(token.clientId)?.grants.get(token.grantId);
      if (g) this.#insertTokens(g, [token], true);
    }
    for (const marker of data.markers) {
      const g = this.#users.get(marker.userId)?.clients.get(marker.clientId)?.grants.get(marker.grantId);
      if (g) this.#insert(g, stored(marker, markerRecord), true);
    }
  }

  /** Sizes of the internal maps, for tests that check nothing grows with dead members. */
  stats(): { users: number; clients: number; grants: number; tokens: number; markers: number; hashes: number } {
    let clients = 0;
    let grants = 0;
    let tokens = 0;
    let markers = 0;
    for (const u of this.#users.values()) {
      clients += u.clients.size;
      for (const c of u.clients.values()) {
        grants += c.grants.size;
        for (const g of c.grants.values()) {
          const n = countRecords(g.records);
          tokens += n.tokens;
          markers += n.markers;
        }
      }
    }
    return { users: this.#users.size, clients, grants, tokens, markers, hashes: this.#byHash.size };
  }

  #userEntry(route: string, userId: string, now: number): UserEntry {
    let u = this.#users.get(userId);
    if (!u) {
      u = { user: userRecord(userId, 0, NO_BROWSER_SESSIONS, now), route, clients: new Map() };
      this.#users.set(userId, u);
    }
    return u;
  }

  #grantEntry(path: GrantPath): GrantEntry | undefined {
    return this.#users.get(path.userId)?.clients.get(path.clientId)?.grants.get(path.grantId);
  }

  #insertTokens(g: GrantEntry, tokens: readonly TokenRecord[], fromDump = false): void {
    for (const t of tokens) {
      // Tokens of one class share a lifetime, so the oldest expire first: prune from the front.
      g.records = this.#prune(g.records, t.issuedAt);
      this.#insert(g, stored(t, tokenRecord), fromDump);
    }
  }

  /**
   * Adds a record with a new hash; a record with a known hash replaces the old one, wherever it
   * was. Minted hashes are fresh (256-bit random values), so the index is written first and
   * only a write that found the hash already there (a caller's bug) looks for the old holder,
   * with a scan: one probe of the large hash index per insert instead of two. Records from a
   * dump, which may well repeat hashes, look the old holder up first instead.
   */
  #insert(g: GrantEntry, r: GrantRecordEntry, fromDump = false): void {
    if (fromDump) {
      const old = this.#byHash.get(r.hash);
      if (old === g && getRecord(g.records, r.hash)) {
        g.records = replaceRecord(g.records, r);
        return;
      }
      if (old) old.records = removeRecord(old.records, getRecord(old.records, r.hash) ?? r);
      g.records = addRecord(g.records, r);
      this.#byHash.set(r.hash, g);
      return;
    }
    const size = this.#byHash.size;
    this.#byHash.set(r.hash, g);
    if (this.#byHash.size !== size) {
      g.records = addRecord(g.records, r);
      return;
    }
    if (getRecord(g.records, r.hash)) {
      g.records = replaceRecord(g.records, r);
      return;
    }
    const holder = this.#holderOf(r.hash, g);
    if (holder) holder.records = removeRecord(holder.records, getRecord(holder.records, r.hash)!);
    g.records = addRecord(g.records, r);
  }

  /** The grant other than `except` whose records hold `hash` (a full scan: only for duplicates). */
  #holderOf(hash: string, except: GrantEntry): GrantEntry | undefined {
    for (const u of this.#users.values()) {
      for (const c of u.clients.values()) {
        for (const g of c.grants.values()) if (g !== except && getRecord(g.records, hash)) return g;
      }
    }
    return undefined;
  }

  /** Bounded pruning of expired records of a grant, keeping the hash index in step. */
  #prune(records: RecordSet, now: number): RecordSet {
    return pruneRecords(records, now, (r) => this.#byHash.delete(r.hash));
  }

  #applyReuse(g: GrantEntry, tokenId: string, familyId: string | undefined, policy: ConsumeRequest['onReuse']): 'grant' | 'descendants' | 'nothing' {
    if (policy === 'grant') {
      g.grant = grantRecord(g.grant, true);
      return 'grant';
    }
    if (policy === 'descendants') {
      this.#revokeDescendants(g, [tokenId], familyId ? [familyId] : []);
      return 'descendants';
    }
    return 'nothing';
  }

  #revokeDescendants(g: GrantEntry, rootIds: string[], families: string[]): number {
    let n = 0;
    for (const t of collectDescendants(liveTokens(g), rootIds, families)) {
      if (t.revoked) continue;
      g.records = replaceRecord(g.records, tokenRecord(t, { used: t.used, usedAt: t.usedAt, revoked: true }));
      n++;
    }
    return n;
  }

  #dropHashes(g: GrantEntry): void {
    for (const r of allRecords(g.records)) this.#byHash.delete(r.hash);
  }

  /**
   * One step per record visited; yields true when the step removed something. A sweep may be
   * suspended between any two steps and resumed by a later purge call, so every check reads
   * the clock of the current call (#sweepNow), never a value captured earlier.
   */
  *#sweepSteps(): Generator<boolean> {
    for (const [userId, u] of this.#users) {
      for (const [clientId, c] of u.clients) {
        for (const [grantId, g] of c.grants) {
          if (g.grant.expiresAt <= this.#sweepNow) {
            this.#dropHashes(g);
            c.grants.delete(grantId);
            yield true;
            continue;
          }
          // A small set is an immutable array and a large one is iterated live, so writes made
          // while the sweep is suspended are safe; the record is looked up again before removal.
          for (const seen of allRecords(g.records)) {
            const r = getRecord(g.records, seen.hash);
            const dead = r !== undefined && r.expiresAt <= this.#sweepNow;
            if (dead) {
              g.records = removeRecord(g.records, r);
              this.#byHash.delete(r.hash);
            }
            yield dead;
          }
        }
        if (c.grants.size === 0) {
          u.clients.delete(clientId);
          yield true;
        }
      }
      const now = this.#sweepNow;
      const live = Object.values(u.user.browserSessions).filter((s) => s.expiresAt > now);
      if (live.length !== Object.keys(u.user.browserSessions).length) {
        u.user = userRecord(u.user.userId, u.user.epoch, freeze(Object.fromEntries(live.map((s) => [s.id, s]))), u.user.createdAt);
      }
      if (u.clients.size === 0 && live.length === 0) {
        this.#users.delete(userId);
        yield true;
      } else yield false;
    }
  }
}

function ctx(g: GrantEntry): GrantContext {
  return { user: g.u.user, client: g.c.client, grant: g.grant };
}

function liveTokens(g: GrantEntry): TokenRecord[] {
  const out: TokenRecord[] = [];
  for (const r of allRecords(g.records)) if (!isMarker(r)) out.push(r);
  return out;
}

/** Copies of a dump's records, each read once (the store lays them out later); a hole or a non-record is {@link InvalidInput}. */
function loadList<T extends object>(list: readonly T[], name: string): T[] {
  if (!Array.isArray(list)) throw new InvalidInput(`dump: ${name} must be an array`);
  const out: T[] = [];
  for (let i = 0; i < list.length; i++) {
    const r: T | undefined = list[i];
    if (r === null || typeof r !== 'object') throw new InvalidInput(`dump: ${name} entry ${i} is not a record`);
    out.push({ ...r });
  }
  return out;
}

function freeze<T extends object>(o: T): T {
  return Object.freeze(o);
}

/** Shared by every user without a logged-in browser: frozen, so no user can change another's. */
const NO_BROWSER_SESSIONS: UserRecord['browserSessions'] = Object.freeze({});

/**
 * A record as the store keeps it: a frozen one as it is (nobody can change it, and the manager
 * lays its records out compactly already), anything else as a frozen copy made by `copy`, so
 * that the caller's object is neither frozen under it nor able to change the tree later.
 */
function stored<T extends object>(r: T, copy: (r: T) => T): T {
  return Object.isFrozen(r) ? r : copy(r);
}

function revokeClientEntry(c: ClientEntry): void {
  c.client = clientRecord(c.client.userId, c.client.clientId, true, c.client.createdAt);
  for (const g of c.grants.values()) g.grant = grantRecord(g.grant, true);
}
