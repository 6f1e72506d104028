/**
 * The embedded store: the whole tree in `Map`s inside this process (SPEC §6).
 *
 * Every method runs as one synchronous block (no `await` between a check and its write), so
 * each is atomic with respect to every other call in the process. Records are frozen when
 * written and replaced, never edited, so a record handed to a caller can't change the tree.
 * Expired records go three ways: pruned from the front of per-class queues on each write
 * (bounded work), swept by {@link MemoryStore.purgeExpired} (bounded work per call), and
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
import { collectDescendants } from '../tree/lineage.js';

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
  /** Live tokens per class, in issue order (the front expires first). */
  readonly tokens: Map<string, Map<string, TokenRecord>>;
  /** Reuse markers by hash, in issue order. */
  readonly markers: Map<string, ReuseMarker>;
}
type HashEntry = { readonly g: GrantEntry; readonly tokenId: string; readonly cls: string } | { readonly g: GrantEntry; readonly marker: ReuseMarker };

/** How many expired records a write may prune from the front of one queue. */
const PRUNE_PER_WRITE = 4;

export class MemoryStore implements SessionStore {
  readonly #users = new Map<string, UserEntry>();
  readonly #byHash = new Map<string, HashEntry>();
  #sweep: Iterator<boolean> | undefined;
  /** The clock value of the current purge call; the resumable sweep reads it at every step. */
  #sweepNow = 0;
  #grantSeq = 0;

  async createGrant(route: string, grant: GrantRecord, now: number): Promise<void> {
    const u = this.#userEntry(route, grant.userId, now);
    let c = u.clients.get(grant.clientId);
    if (!c) {
      c = { client: freeze({ userId: grant.userId, clientId: grant.clientId, revoked: false, createdAt: now }), grants: new Map() };
      u.clients.set(grant.clientId, c);
    } else if (c.client.revoked) {
      c.client = freeze({ ...c.client, revoked: false, createdAt: now });
    }
    c.grants.set(grant.id, { grant: freeze(grant), seq: ++this.#grantSeq, u, c, tokens: new Map(), markers: new Map() });
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
    const out: TokenRecord[] = [];
    for (const m of g.tokens.values()) out.push(...m.values());
    return out;
  }

  async findToken(_route: string, hash: string): Promise<TokenLookup | undefined> {
    const e = this.#byHash.get(hash);
    if (!e) return undefined;
    if ('marker' in e) return { ...ctx(e.g), marker: e.marker };
    const token = e.g.tokens.get(e.cls)?.get(e.tokenId);
    return token && { ...ctx(e.g), token };
  }

  async addTokens(path: GrantPath, tokens: readonly TokenRecord[]): Promise<boolean> {
    const g = this.#grantEntry(path);
    if (!g) return false;
    this.#insertTokens(g, tokens);
    return true;
  }

  async consume(_route: string, hash: string, req: ConsumeRequest): Promise<ConsumeResult> {
    const e = this.#byHash.get(hash);
    if (!e) return { status: 'unknown' };
    const g = e.g;
    if ('marker' in e) {
      // graceMs 0 disables the window (SPEC §5), also for a reuse in the same millisecond.
      if (req.graceMs > 0 && req.now - e.marker.usedAt <= req.graceMs) return { status: 'reused', revoked: 'nothing' };
      return { status: 'reused', revoked: this.#applyReuse(g, e.marker.tokenId, e.marker.familyId, req.onReuse) };
    }
    const classMap = g.tokens.get(e.cls);
    const token = classMap?.get(e.tokenId);
    if (!classMap || !token || token.id !== req.tokenId) return { status: 'unknown' };
    if (token.revoked) return { status: 'revoked' };
    const max = token.usageRules.maxUsage;
    if (max !== undefined && token.used >= max) {
      return { status: 'reused', revoked: this.#applyReuse(g, token.id, token.familyId, req.onReuse) };
    }
    const used = token.used + 1;
    if (max !== undefined && used >= max) {
      // Used up: keep only a marker, so the grant's index holds live tokens only (fault 18).
      classMap.delete(token.id);
      const marker = freeze(markerOf(token, req.now));
      g.markers.set(hash, marker);
      this.#byHash.set(hash, { g, marker });
      pruneFront(g.markers, req.now, (h) => this.#byHash.delete(h));
    } else {
      classMap.set(token.id, freeze({ ...token, used, usedAt: req.now }));
    }
    this.#insertTokens(g, req.mint);
    return { status: 'ok' };
  }

  async revokeGrant(path: GrantPath): Promise<boolean> {
    const g = this.#grantEntry(path);
    if (!g) return false;
    g.grant = freeze({ ...g.grant, revoked: true });
    return true;
  }

  async revokeClient(_route: string, userId: string, clientId: string): Promise<boolean> {
    const c = this.#users.get(userId)?.clients.get(clientId);
    if (!c) return false;
    c.client = freeze({ ...c.client, revoked: true });
    for (const g of c.grants.values()) g.grant = freeze({ ...g.grant, revoked: true });
    return true;
  }

  async revokeToken(path: GrantPath, tokenId: string): Promise<number> {
    const g = this.#grantEntry(path);
    return g ? this.#revokeDescendants(g, [tokenId], []) : 0;
  }

  async logoutUser(_route: string, userId: string, opts: { keepOffline: boolean; now: number }): Promise<LogoutResult | undefined> {
    const u = this.#users.get(userId);
    if (!u) return undefined;
    const grants: GrantContext[] = [];
    for (const c of u.clients.values()) for (const g of c.grants.values()) grants.push(ctx(g));
    const browserSessionIds = Object.keys(u.user.browserSessions);
    u.user = freeze({ ...u.user, epoch: u.user.epoch + 1, browserSessions: freeze({}) });
    if (!opts.keepOffline) {
      for (const c of u.clients.values()) {
        c.client = freeze({ ...c.client, revoked: true });
        for (const g of c.grants.values()) g.grant = freeze({ ...g.grant, revoked: true });
      }
    }
    return { grants, browserSessionIds };
  }

  async addBrowserSession(route: string, userId: string, session: BrowserSessionRecord): Promise<UserRecord> {
    const u = this.#userEntry(route, userId, session.createdAt);
    const live = Object.fromEntries(Object.entries(u.user.browserSessions).filter(([, s]) => s.expiresAt > session.createdAt));
    u.user = freeze({ ...u.user, browserSessions: freeze({ ...live, [session.id]: freeze({ ...session, epoch: u.user.epoch }) }) });
    return u.user;
  }

  async removeBrowserSession(_route: string, userId: string, browserSessionId: string): Promise<boolean> {
    const u = this.#users.get(userId);
    if (!u || !Object.hasOwn(u.user.browserSessions, browserSessionId)) return false;
    const rest = { ...u.user.browserSessions };
    delete rest[browserSessionId];
    u.user = freeze({ ...u.user, browserSessions: freeze(rest) });
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
          for (const m of g.tokens.values()) tokens.push(...m.values());
          markers.push(...g.markers.values());
        }
      }
    }
    return { version: 1, users, clients, grants, tokens, markers };
  }

  async load(data: TreeDump, routeOf: (userId: string) => string): Promise<void> {
    for (const user of data.users) {
      const route = routeOf(user.userId);
      const existing = this.#users.get(user.userId);
      if (existing) existing.user = freeze(user);
      else this.#users.set(user.userId, { user: freeze(user), route, clients: new Map() });
    }
    for (const client of data.clients) {
      const u = this.#users.get(client.userId);
      if (!u) continue;
      const c = u.clients.get(client.clientId);
      if (c) c.client = freeze(client);
      else u.clients.set(client.clientId, { client: freeze(client), grants: new Map() });
    }
    for (const grant of data.grants) {
      const u = this.#users.get(grant.userId);
      const c = u?.clients.get(grant.clientId);
      if (!u || !c) continue;
      const g = c.grants.get(grant.id);
      if (g) g.grant = freeze(grant);
      else c.grants.set(grant.id, { grant: freeze(grant), seq: ++this.#grantSeq, u, c, tokens: new Map(), markers: new Map() });
    }
    for (const token of data.tokens) {
      const g = this.#users.get(token.userId)?.clients.get(token.clientId)?.grants.get(token.grantId);
      if (g) this.#insertTokens(g, [token]);
    }
    for (const marker of data.markers) {
      const g = this.#users.get(marker.userId)?.clients.get(marker.clientId)?.grants.get(marker.grantId);
      if (!g) continue;
      g.markers.set(marker.hash, freeze(marker));
      this.#byHash.set(marker.hash, { g, marker: freeze(marker) });
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
          markers += g.markers.size;
          for (const m of g.tokens.values()) tokens += m.size;
        }
      }
    }
    return { users: this.#users.size, clients, grants, tokens, markers, hashes: this.#byHash.size };
  }

  #userEntry(route: string, userId: string, now: number): UserEntry {
    let u = this.#users.get(userId);
    if (!u) {
      u = { user: freeze({ userId, epoch: 0, browserSessions: freeze({}), createdAt: now }), route, clients: new Map() };
      this.#users.set(userId, u);
    }
    return u;
  }

  #grantEntry(path: GrantPath): GrantEntry | undefined {
    return this.#users.get(path.userId)?.clients.get(path.clientId)?.grants.get(path.grantId);
  }

  #insertTokens(g: GrantEntry, tokens: readonly TokenRecord[]): void {
    for (const t of tokens) {
      let m = g.tokens.get(t.class);
      if (!m) g.tokens.set(t.class, (m = new Map()));
      // Tokens of one class share a lifetime, so the oldest expire first: prune from the front.
      pruneFront(m, t.issuedAt, (_id, old) => this.#byHash.delete(old.hash));
      m.set(t.id, freeze(t));
      this.#byHash.set(t.hash, { g, tokenId: t.id, cls: t.class });
    }
  }

  #applyReuse(g: GrantEntry, tokenId: string, familyId: string | undefined, policy: ConsumeRequest['onReuse']): 'grant' | 'descendants' | 'nothing' {
    if (policy === 'grant') {
      g.grant = freeze({ ...g.grant, revoked: true });
      return 'grant';
    }
    if (policy === 'descendants') {
      this.#revokeDescendants(g, [tokenId], familyId ? [familyId] : []);
      return 'descendants';
    }
    return 'nothing';
  }

  #revokeDescendants(g: GrantEntry, rootIds: string[], families: string[]): number {
    const all: TokenRecord[] = [];
    for (const m of g.tokens.values()) all.push(...m.values());
    let n = 0;
    for (const t of collectDescendants(all, rootIds, families)) {
      if (t.revoked) continue;
      g.tokens.get(t.class)!.set(t.id, freeze({ ...t, revoked: true }));
      n++;
    }
    return n;
  }

  #dropHashes(g: GrantEntry): void {
    for (const m of g.tokens.values()) for (const t of m.values()) this.#byHash.delete(t.hash);
    for (const h of g.markers.keys()) this.#byHash.delete(h);
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
          for (const m of g.tokens.values()) {
            for (const [id, t] of m) {
              const dead = t.expiresAt <= this.#sweepNow;
              if (dead) {
                m.delete(id);
                this.#byHash.delete(t.hash);
              }
              yield dead;
            }
          }
          for (const [h, mk] of g.markers) {
            const dead = mk.expiresAt <= this.#sweepNow;
            if (dead) {
              g.markers.delete(h);
              this.#byHash.delete(h);
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
        u.user = freeze({ ...u.user, browserSessions: freeze(Object.fromEntries(live.map((s) => [s.id, s]))) });
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

function markerOf(t: TokenRecord, now: number): ReuseMarker {
  return {
    hash: t.hash,
    tokenId: t.id,
    grantId: t.grantId,
    userId: t.userId,
    clientId: t.clientId,
    class: t.class,
    usedAt: now,
    expiresAt: t.expiresAt,
    ...(t.familyId !== undefined && { familyId: t.familyId }),
  };
}

/** Removes up to PRUNE_PER_WRITE expired entries from the front of an issue-ordered map. */
function pruneFront<V extends { expiresAt: number }>(m: Map<string, V>, now: number, onRemove: (key: string, v: V) => void): void {
  let n = 0;
  for (const [k, v] of m) {
    if (n++ >= PRUNE_PER_WRITE || v.expiresAt > now) return;
    m.delete(k);
    onRemove(k, v);
  }
}

function freeze<T extends object>(o: T): T {
  return Object.freeze(o);
}
