/**
 * The session tree in Redis (SPEC §6), on node-redis (`redis` v5) — a single server or a
 * Redis Cluster.
 *
 * Layout, per user (all keys under the hash tag of the user's route, so one script reaches the
 * whole subtree in one slot):
 * - `<prefix>{<route>}u:<userHash>` — HASH: `u` the user record (with its browser sessions),
 *   `c<clientId>` each client session, `g<grantHash>` each grant;
 * - `<prefix>{<route>}x:<userHash>` — ZSET scored by expiry: `g<grantHash>` for each grant and
 *   `t<grantHash><tokenHash>` for each token or reuse marker (the grant's token index);
 * - `<prefix>{<route>}t:<tokenHash>` — STRING: a token, or the reuse marker of a consumed one.
 *   Token values embed their route, so a value alone finds its key (one round trip).
 *
 * Every key expires with what it holds: token keys at the token's expiry, the user's two keys at
 * the expiry of their longest-lived member, recomputed by every write; every write also prunes a
 * few expired index members (field fault 18). Nothing secret is stored: tokens are keyed by the
 * hash of their value, and no key or salt ever reaches the store.
 *
 * Every method is one Lua script (one round trip, atomic) or one single command, except
 * `mintFromGrant`: one script when the grant is remembered (this store created or read it lately
 * and it is unchanged), else a read and then that script.
 */
import { InvalidInput } from '../errors.js';
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
} from '../store/store.js';
import {
  decodeClient,
  decodeGrant,
  decodeMarker,
  decodeToken,
  decodeUser,
  encodeClient,
  encodeGrant,
  encodeMarker,
  encodeToken,
  encodeUser,
  grantIds,
  grantSeq,
  isMarker,
  newUserHead,
} from './codec.js';
import { ScriptExecutor, type RedisLikeClient, type RedisNodeClient } from './executor.js';
import { clientField, esc, globEscape, grantField, grantHash, isRoute, RouteKeys, unesc, userHash, USER_FIELD } from './keys.js';
import { SCRIPTS } from './lua.js';
import { grantOf, userOf } from './decoded.js';
import { Memo } from '../crypto/memo.js';

export type { RedisLikeClient, RedisNodeClient, RedisClusterClient } from './executor.js';

export interface RedisStoreOptions {
  /**
   * A connected node-redis v5 client (`createClient()`) or cluster client (`createCluster()`).
   * The store configures nothing on it except a per-command queue timeout on its own view of it.
   * Recommended client options (see the README):
   * `disableOfflineQueue: true` (fail at once while disconnected instead of queueing),
   * `socket.reconnectStrategy` that keeps retrying (e.g. `(n) => Math.min(n * 50, 1000)`), and
   * `socket.connectTimeout` ≤ `commandTimeout`. Attach an `'error'` listener to log connection
   * errors; if none is attached the store attaches a silent one so that an outage cannot crash
   * the process.
   */
  readonly client: RedisLikeClient;
  /** Prefix of every key (default `oidc:`). Must not contain `{` or `}` (they delimit hash tags). */
  readonly prefix?: string;
  /**
   * Every call answers within this many milliseconds (default 1000): a slow, down or
   * unreachable Redis makes it reject with `StoreUnavailable`.
   */
  readonly commandTimeout?: number;
  /**
   * The clock the records' times are in: the manager's `clock` (default `Date.now`). TTLs are
   * set in Redis' real time, shifted by the difference between this clock and `Date.now()`.
   */
  readonly clock?: () => number;
}

/** Users written per load script at most (tokens beyond go in follow-up calls). */
const LOAD_CHUNK = 2000;
/** User subtrees read or purged concurrently by dump and purge. */
const SCAN_CONCURRENCY = 16;
/**
 * Grants remembered for {@link RedisStore.mintFromGrant}: those this store created or read
 * lately (a code is minted moments after its grant is made). Bounded; a miss costs one read.
 */
const REMEMBERED_GRANTS = 1024;
/** Conditional writes a mint tries before it writes on a fresh read alone (as addTokens does). */
const MINT_ATTEMPTS = 3;

/** A grant with its user and client records, as stored (the strings) and decoded once needed. */
interface SeenGrant {
  readonly u: string;
  readonly c: string;
  readonly g: string;
  ctx?: GrantContext;
}

type Flat = readonly (string | null)[];

/**
 * {@link SessionStore} on Redis.
 *
 * @example
 * ```ts
 * const client = await createClient({ url, disableOfflineQueue: true }).on('error', log).connect();
 * const manager = new SessionManager({ secrets, store: new RedisStore({ client }) });
 * ```
 */
export class RedisStore implements SessionStore {
  readonly #exec: ScriptExecutor;
  readonly #prefix: string;
  readonly #clock: () => number;
  /** SCAN cursors of the purge sweep, per master (by position). */
  readonly #purgeCursors = new Map<number, string>();
  /** Grants recently created or read, by user key and grant field (see mintFromGrant). */
  readonly #seenGrants = new Memo<SeenGrant>(REMEMBERED_GRANTS, 1024);

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object' || !options.client) throw new InvalidInput('RedisStore needs a client');
    const prefix = options.prefix ?? 'oidc:';
    if (typeof prefix !== 'string' || /[{}]/.test(prefix) || prefix.length > 256) {
      throw new InvalidInput('prefix must be a string of at most 256 characters without { or }');
    }
    const timeout = options.commandTimeout ?? 1000;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw new InvalidInput('commandTimeout must be a positive number of ms');
    if (options.clock !== undefined && typeof options.clock !== 'function') throw new InvalidInput('clock must be a function');
    this.#prefix = prefix;
    this.#clock = options.clock ?? Date.now;
    this.#exec = new ScriptExecutor(options.client, timeout, SCRIPTS);
  }

  /** The key prefix this store writes under. */
  get prefix(): string {
    return this.#prefix;
  }

  // ---------------------------------------------------------------- writes

  async createGrant(route: string, grant: GrantRecord, now: number): Promise<void> {
    const k = this.#keys(route);
    const uh = userHash(grant.userId);
    const gh = grantHash(grant.clientId, grant.id);
    const g = encodeGrant(grant);
    const r = await this.#exec.run(SCRIPTS.createGrant, k.user(uh), [
      k.base,
      uh,
      String(now),
      this.#offset(),
      newUserHead(grant.userId, now),
      esc(grant.userId),
      clientField(grant.clientId),
      encodeClient({ revoked: false, createdAt: now }),
      grantField(gh),
      g.head,
      String(grant.expiresAt),
      esc(grant.clientId),
      esc(grant.id),
      g.body,
    ]);
    if (r === 'collision') throw collision();
    const [u, c, gv] = r as string[];
    this.#seenGrants.set(seenKey(k.user(uh), grantField(gh)), { u: u!, c: c!, g: gv! });
  }

  async addTokens(path: GrantPath, tokens: readonly TokenRecord[]): Promise<boolean> {
    const k = this.#keys(path.route);
    const uh = userHash(path.userId);
    const gh = grantHash(path.clientId, path.grantId);
    const r = await this.#exec.run(SCRIPTS.addTokens, k.user(uh), [
      k.base,
      uh,
      String(this.#clock()),
      this.#offset(),
      gh,
      esc(path.clientId),
      esc(path.grantId),
      ...this.#tokenArgs(tokens),
    ]);
    return r === 1;
  }

  /**
   * One round trip when the grant is remembered (this store created or read it lately): `build`
   * decides on the remembered records, and one script writes its tokens only if the user,
   * client and grant records in Redis are still exactly those strings; otherwise, or when
   * `build` rejected remembered records, the grant is read again and `build` runs again.
   */
  async mintFromGrant(path: GrantPath, build: (ctx: GrantContext) => Promise<readonly TokenRecord[]>): Promise<boolean> {
    const k = this.#keys(path.route);
    const uh = userHash(path.userId);
    const uk = k.user(uh);
    const cf = clientField(path.clientId);
    const gf = grantField(grantHash(path.clientId, path.grantId));
    const key = seenKey(uk, gf);
    let seen = this.#seenGrants.peek(key);
    let remembered = seen !== undefined;
    for (let attempt = 1; ; attempt++) {
      if (!seen) {
        seen = await this.#readGrant(uk, cf, gf);
        remembered = false;
      }
      const ctx = seen && contextOf(seen, path);
      if (!seen || !ctx) return false;
      let tokens: readonly TokenRecord[];
      try {
        tokens = await build(ctx);
      } catch (e) {
        if (!remembered) throw e;
        seen = undefined; // a refusal may rest on records that have changed since: decide again on current ones
        continue;
      }
      if (attempt > MINT_ATTEMPTS) return this.addTokens(path, tokens); // the records keep changing: as getGrant + addTokens
      const r = await this.#exec.run(SCRIPTS.mintFromGrant, uk, [
        k.base,
        uh,
        String(this.#clock()),
        this.#offset(),
        cf,
        gf,
        seen.u,
        seen.c,
        seen.g,
        ...this.#tokenArgs(tokens),
      ]);
      if (r === 'ok') return true;
      if (r === 'gone') return false;
      seen = undefined; // 'stale'
    }
  }

  async consume(route: string, hash: string, req: ConsumeRequest): Promise<ConsumeResult> {
    if (!isRoute(route)) return { status: 'unknown' };
    const k = this.#keys(route);
    const r = (await this.#exec.run(SCRIPTS.consume, k.token(hash), [
      k.base,
      String(req.now),
      this.#offset(),
      esc(req.tokenId),
      req.onReuse,
      String(req.graceMs),
      ...this.#tokenArgs(req.mint),
    ])) as Flat;
    switch (r[0]) {
      case 'ok':
        return { status: 'ok' };
      case 'revoked':
        return { status: 'revoked' };
      case 'reused':
        return { status: 'reused', revoked: r[1] as 'grant' | 'descendants' | 'nothing' };
      default:
        return { status: 'unknown' };
    }
  }

  async revokeGrant(path: GrantPath): Promise<boolean> {
    const k = this.#keys(path.route);
    const gh = grantHash(path.clientId, path.grantId);
    const r = await this.#exec.run(SCRIPTS.revokeGrant, k.user(userHash(path.userId)), [k.base, grantField(gh), esc(path.clientId), esc(path.grantId)]);
    return r === 1;
  }

  async revokeClient(route: string, userId: string, clientId: string): Promise<boolean> {
    const k = this.#keys(route);
    const r = await this.#exec.run(SCRIPTS.revokeClient, k.user(userHash(userId)), [k.base, clientField(clientId), esc(clientId)]);
    return r === 1;
  }

  async revokeToken(path: GrantPath, tokenId: string): Promise<number> {
    const k = this.#keys(path.route);
    const uh = userHash(path.userId);
    const gh = grantHash(path.clientId, path.grantId);
    const r = await this.#exec.run(SCRIPTS.revokeToken, k.user(uh), [k.base, uh, gh, esc(path.clientId), esc(path.grantId), esc(tokenId)]);
    return Number(r);
  }

  async logoutUser(route: string, userId: string, opts: { keepOffline: boolean; now: number }): Promise<LogoutResult | undefined> {
    const k = this.#keys(route);
    const uh = userHash(userId);
    const r = (await this.#exec.run(SCRIPTS.logoutUser, k.user(uh), [k.base, uh, opts.keepOffline ? '1' : '0', String(opts.now), this.#offset()])) as Flat | null;
    if (!r) return undefined;
    const tree = parseUserHash(r);
    if (!tree || tree.user.userId !== userId) return undefined;
    return { grants: tree.grants, browserSessionIds: Object.keys(tree.user.browserSessions) };
  }

  async addBrowserSession(route: string, userId: string, session: BrowserSessionRecord): Promise<UserRecord> {
    const k = this.#keys(route);
    const uh = userHash(userId);
    const r = await this.#exec.run(SCRIPTS.addBrowserSession, k.user(uh), [
      k.base,
      uh,
      String(session.createdAt),
      this.#offset(),
      newUserHead(userId, session.createdAt),
      esc(userId),
      esc(session.id),
      String(session.createdAt),
      String(session.expiresAt),
    ]);
    if (typeof r !== 'string') throw collision();
    return decodeUser(r);
  }

  async removeBrowserSession(route: string, userId: string, browserSessionId: string): Promise<boolean> {
    const k = this.#keys(route);
    const uh = userHash(userId);
    const r = await this.#exec.run(SCRIPTS.removeBrowserSession, k.user(uh), [k.base, uh, String(this.#clock()), this.#offset(), esc(browserSessionId)]);
    return r === 1;
  }

  async remove(path: NodePath): Promise<boolean> {
    const k = this.#keys(path.route);
    const uh = userHash(path.userId);
    const uk = k.user(uh);
    let r: unknown;
    if (path.clientId === undefined) {
      r = await this.#exec.run(SCRIPTS.removeUser, uk, [k.base, uh]);
    } else if (path.grantId === undefined) {
      r = await this.#exec.run(SCRIPTS.removeClient, uk, [k.base, uh, String(this.#clock()), this.#offset(), clientField(path.clientId), esc(path.clientId)]);
    } else {
      const gh = grantHash(path.clientId, path.grantId);
      r = await this.#exec.run(SCRIPTS.removeGrant, uk, [k.base, uh, String(this.#clock()), this.#offset(), gh, esc(path.clientId), esc(path.grantId)]);
    }
    return r === 1;
  }

  // ---------------------------------------------------------------- reads

  async getUser(route: string, userId: string): Promise<UserView | undefined> {
    const k = this.#keys(route);
    const r = (await this.#exec.run(SCRIPTS.getUser, k.user(userHash(userId)), [k.base])) as Flat | null;
    if (!r) return undefined;
    const user = decodeUser(r[0]!);
    if (user.userId !== userId) return undefined;
    return { user, clientIds: r.slice(1).map((f) => unesc(f!.slice(1))) };
  }

  async getClient(route: string, userId: string, clientId: string): Promise<ClientView | undefined> {
    const k = this.#keys(route);
    const r = (await this.#exec.run(SCRIPTS.getClient, k.user(userHash(userId)), [k.base, clientField(clientId), esc(clientId)])) as Flat | null;
    if (!r) return undefined;
    const user = decodeUser(r[0]!);
    if (user.userId !== userId) return undefined;
    return {
      user,
      client: decodeClient(r[1]!, userId, clientId),
      grantIds: r.slice(2).map((h) => unesc(h!.split('\t')[2]!)),
    };
  }

  async getGrant(path: GrantPath): Promise<GrantContext | undefined> {
    const k = this.#keys(path.route);
    const seen = await this.#readGrant(k.user(userHash(path.userId)), clientField(path.clientId), grantField(grantHash(path.clientId, path.grantId)));
    return seen && contextOf(seen, path);
  }

  async listGrants(route: string, userId: string, clientId?: string): Promise<GrantContext[]> {
    const k = this.#keys(route);
    const r = (await this.#exec.run(SCRIPTS.listGrants, k.user(userHash(userId)), [k.base, clientId === undefined ? '' : esc(clientId)])) as Flat;
    const tree = parseUserHash(r);
    if (!tree || tree.user.userId !== userId) return [];
    // Newest first; grants of the same millisecond by creation order (B-29).
    return tree.grants.sort((a, b) => b.grant.issuedAt - a.grant.issuedAt || tree.seq.get(b)! - tree.seq.get(a)!);
  }

  async listTokens(path: GrantPath): Promise<TokenRecord[]> {
    const k = this.#keys(path.route);
    const uh = userHash(path.userId);
    const gh = grantHash(path.clientId, path.grantId);
    const r = (await this.#exec.run(SCRIPTS.listTokens, k.user(uh), [k.base, uh, gh, esc(path.clientId), esc(path.grantId)])) as Flat | null;
    if (!r) return [];
    const grant = decodeGrant(r[0]!, path.userId);
    const out: TokenRecord[] = [];
    for (let i = 1; i < r.length; i += 2) out.push(decodeToken(r[i + 1]!, r[i]!, grant));
    return out;
  }

  async findToken(route: string, hash: string): Promise<TokenLookup | undefined> {
    if (!isRoute(route)) return undefined;
    const k = this.#keys(route);
    const r = (await this.#exec.run(SCRIPTS.findToken, k.token(hash), [k.base])) as Flat | null;
    if (!r) return undefined;
    const [v, u, g, c] = r as string[];
    const user = userOf(u!);
    const grant = grantOf(g!, user.userId);
    const client = decodeClient(c!, user.userId, grant.clientId);
    if (isMarker(v!)) return { user, client, grant, marker: decodeMarker(v!, hash, grant) };
    return { user, client, grant, token: decodeToken(v!, hash, grant) };
  }

  // ---------------------------------------------------------------- sweeps

  /**
   * Redis expires keys by their TTLs; this removes what TTLs can't: index members, grants,
   * client sessions and browser sessions whose expiry (in the records' clock) has passed, and
   * users left with nothing. Walks the user keys with SCAN, resuming where the previous call
   * stopped; visits at most `limit` users and removes at most about `limit` records per call.
   */
  async purgeExpired(now: number, limit: number): Promise<number> {
    const nodes = await this.#exec.nodes();
    let removed = 0;
    let visited = 0;
    for (let i = 0; i < nodes.length && visited < limit && removed < limit; i++) {
      let cursor = this.#purgeCursors.get(i) ?? '0';
      do {
        const page = await this.#scanUsers(nodes[i]!, cursor, Math.min(1000, limit));
        cursor = page.cursor;
        // One user at a time: each script is told how much of the budget is left.
        for (const key of page.keys) {
          if (removed >= limit) break;
          visited++;
          const parsed = this.#parseUserKey(key);
          if (!parsed) continue;
          const budget = String(limit - removed);
          removed += Number(await this.#exec.run(SCRIPTS.purgeUser, key, [parsed.base, parsed.uh, String(now), this.#offset(), budget]));
        }
      } while (cursor !== '0' && visited < limit && removed < limit);
      this.#purgeCursors.set(i, cursor);
    }
    return removed;
  }

  async dump(): Promise<TreeDump> {
    const users: UserRecord[] = [];
    const clients: ClientRecord[] = [];
    const grants: GrantRecord[] = [];
    const tokens: TokenRecord[] = [];
    const markers: ReuseMarker[] = [];
    for (const node of await this.#exec.nodes()) {
      let cursor = '0';
      do {
        const page = await this.#scanUsers(node, cursor, 1000);
        cursor = page.cursor;
        await mapLimited(page.keys, SCAN_CONCURRENCY, async (key) => {
          const parsed = this.#parseUserKey(key);
          if (!parsed) return;
          const [all, toks] = (await this.#exec.run(SCRIPTS.dumpUser, key, [parsed.base, parsed.uh])) as [Flat, Flat];
          const tree = parseUserHash(all);
          if (!tree) return;
          users.push(tree.user);
          clients.push(...tree.clients.values());
          const byHash = new Map<string, GrantRecord>();
          // Oldest first: `load` numbers grants in the order it meets them, and that number orders
          // grants of the same millisecond (B-29), so the newest stays the newest across a reload.
          const ordered = [...tree.grantsByHash].sort(([, a], [, b]) => tree.seq.get(a)! - tree.seq.get(b)!);
          for (const [gh, ctx] of ordered) {
            grants.push(ctx.grant);
            byHash.set(gh, ctx.grant);
          }
          for (let j = 0; j < toks.length; j += 2) {
            const hash = toks[j]!;
            const v = toks[j + 1]!;
            const grant = byHash.get(v.split('\t', 3)[2]!);
            if (!grant) continue;
            if (isMarker(v)) markers.push(decodeMarker(v, hash, grant));
            else tokens.push(decodeToken(v, hash, grant));
          }
        });
      } while (cursor !== '0');
    }
    return { version: 1, users, clients, grants, tokens, markers };
  }

  async load(data: TreeDump, routeOf: (userId: string) => string): Promise<void> {
    interface Subtree {
      user?: UserRecord;
      clients: ClientRecord[];
      grants: GrantRecord[];
      tokens: TokenRecord[];
      markers: ReuseMarker[];
    }
    const byUser = new Map<string, Subtree>();
    const at = (userId: string): Subtree => {
      let s = byUser.get(userId);
      if (!s) byUser.set(userId, (s = { clients: [], grants: [], tokens: [], markers: [] }));
      return s;
    };
    for (const u of data.users) at(u.userId).user = u;
    for (const c of data.clients) at(c.userId).clients.push(c);
    for (const g of data.grants) at(g.userId).grants.push(g);
    for (const t of data.tokens) at(t.userId).tokens.push(t);
    for (const m of data.markers) at(m.userId).markers.push(m);

    await mapLimited([...byUser], SCAN_CONCURRENCY, async ([userId, s]) => {
      const route = routeOf(userId);
      const k = this.#keys(route);
      const uh = userHash(userId);
      const leaves: string[][] = [
        ...s.tokens.map((t) => {
          const gh = grantHash(t.clientId, t.grantId);
          const e = encodeToken(t, uh, gh);
          return ['t', gh, t.hash, e.pre, e.scope, e.post, this.#pxat(t.expiresAt), String(t.expiresAt)];
        }),
        ...s.markers.map((m) => {
          const gh = grantHash(m.clientId, m.grantId);
          return ['m', gh, m.hash, encodeMarker(m, uh, gh), this.#pxat(m.expiresAt), String(m.expiresAt)];
        }),
      ];
      for (let i = 0; i === 0 || i < leaves.length; i += LOAD_CHUNK) {
        const chunk = leaves.slice(i, i + LOAD_CHUNK);
        const first = i === 0;
        const toks = chunk.filter((l) => l[0] === 't').map((l) => l.slice(1));
        const marks = chunk.filter((l) => l[0] === 'm').map((l) => l.slice(1));
        const clients = first ? s.clients : [];
        const grantsOf = first ? s.grants : [];
        const r = await this.#exec.run(SCRIPTS.load, k.user(uh), [
          k.base,
          uh,
          String(this.#clock()),
          this.#offset(),
          first && s.user ? encodeUser(s.user) : '',
          esc(userId),
          String(clients.length),
          ...clients.flatMap((c) => [clientField(c.clientId), encodeClient(c)]),
          String(grantsOf.length),
          ...grantsOf.flatMap((g) => {
            const gh = grantHash(g.clientId, g.id);
            const e = encodeGrant(g);
            return [grantField(gh), e.head, e.body, String(g.expiresAt), clientField(g.clientId), esc(g.clientId), esc(g.id)];
          }),
          String(toks.length),
          ...toks.flat(),
          String(marks.length),
          ...marks.flat(),
        ]);
        if (r === 'collision') throw collision();
        if (r === 'nouser') return;
      }
    });
  }

  // ---------------------------------------------------------------- internals

  /** A grant with its user and client records (one HMGET), remembered for mintFromGrant. */
  async #readGrant(uk: string, cf: string, gf: string): Promise<SeenGrant | undefined> {
    const [u, c, g] = (await this.#exec.hmGet(uk, [USER_FIELD, cf, gf])) as Flat;
    if (!u || !c || !g) return undefined;
    const seen: SeenGrant = { u, c, g };
    this.#seenGrants.set(seenKey(uk, gf), seen);
    return seen;
  }

  #keys(route: string): RouteKeys {
    if (!isRoute(route)) throw new InvalidInput('route is not valid');
    return new RouteKeys(this.#prefix, route);
  }

  /** Records' clock → Redis' clock. */
  #offset(): string {
    return String(Date.now() - this.#clock());
  }

  #pxat(expiresAt: number): string {
    return String(Math.max(1, Math.ceil(expiresAt + Date.now() - this.#clock())));
  }

  /** The `writeTokens` argument list: count, then (hash, pre, scope, post, pxat, score) each. */
  #tokenArgs(tokens: readonly TokenRecord[]): string[] {
    const out = [String(tokens.length)];
    for (const t of tokens) {
      const e = encodeToken(t, userHash(t.userId), grantHash(t.clientId, t.grantId));
      out.push(t.hash, e.pre, e.scope, e.post, this.#pxat(t.expiresAt), String(t.expiresAt));
    }
    return out;
  }

  async #scanUsers(node: RedisNodeClient, cursor: string, count: number): Promise<{ cursor: string; keys: string[] }> {
    const r = await this.#exec.bounded(() => node.scan(cursor, { MATCH: `${globEscape(this.#prefix)}{*}u:*`, COUNT: count, TYPE: 'hash' }));
    return { cursor: String(r.cursor), keys: r.keys.map(String) };
  }

  /** Route and user hash of a user key found by SCAN; undefined for anything else. */
  #parseUserKey(key: string): { base: string; uh: string } | undefined {
    const m = /^\{([A-Za-z0-9_-]{1,16})\}u:([A-Za-z0-9_-]{16})$/.exec(key.startsWith(this.#prefix) ? key.slice(this.#prefix.length) : '');
    if (!m) return undefined;
    return { base: new RouteKeys(this.#prefix, m[1]!).base, uh: m[2]! };
  }
}

const seenKey = (uk: string, gf: string): string => `${uk}\t${gf}`;

/** The records of a grant, decoded once; undefined unless they are the grant `path` names. */
function contextOf(seen: SeenGrant, path: GrantPath): GrantContext | undefined {
  if (!seen.ctx) {
    const ids = grantIds(seen.g);
    if (ids.clientId !== path.clientId || ids.grantId !== path.grantId) return undefined;
    const user = userOf(seen.u);
    if (user.userId !== path.userId) return undefined;
    seen.ctx = { user, client: decodeClient(seen.c, path.userId, path.clientId), grant: grantOf(seen.g, path.userId) };
  }
  const { user, grant } = seen.ctx;
  return user.userId === path.userId && grant.clientId === path.clientId && grant.id === path.grantId ? seen.ctx : undefined;
}

/** A user HASH (flat field/value list) decoded into records. */
function parseUserHash(flat: Flat):
  | {
      user: UserRecord;
      clients: Map<string, ClientRecord>;
      grants: GrantContext[];
      grantsByHash: Map<string, GrantContext>;
      seq: Map<GrantContext, number>;
    }
  | undefined {
  let u: string | undefined;
  const clientValues: [string, string][] = [];
  const grantValues: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const f = flat[i]!;
    const v = flat[i + 1]!;
    if (f === USER_FIELD) u = v;
    else if (f.startsWith('c')) clientValues.push([f.slice(1), v]);
    else if (f.startsWith('g')) grantValues.push([f.slice(1), v]);
  }
  if (u === undefined) return undefined;
  const user = decodeUser(u);
  const clients = new Map<string, ClientRecord>();
  for (const [cid, v] of clientValues) clients.set(cid, decodeClient(v, user.userId, unesc(cid)));
  const grants: GrantContext[] = [];
  const grantsByHash = new Map<string, GrantContext>();
  const seq = new Map<GrantContext, number>();
  for (const [gh, v] of grantValues) {
    const grant = decodeGrant(v, user.userId);
    const client = clients.get(esc(grant.clientId));
    if (!client) continue; // can't happen: a client session is removed with its grants
    const ctx = { user, client, grant };
    grants.push(ctx);
    grantsByHash.set(gh, ctx);
    seq.set(ctx, grantSeq(v));
  }
  return { user, clients, grants, grantsByHash, seq };
}

function collision(): InvalidInput {
  return new InvalidInput('user id collides with another user in the store');
}

/** Runs `fn` over `items` with at most `limit` in flight; results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
