/**
 * The storage contract of the session tree (SPEC §6).
 *
 * Every method is one atomic step: a store never exposes a half-applied operation, and the
 * manager never needs two calls to keep the tree consistent. This is what lets a Redis store
 * run each method as one Lua script (one round trip) and a memory store run each as one
 * synchronous block with no `await` between check and write.
 *
 * The manager does all policy (activity, minting rules, scope checks); a store only keeps
 * records, indexes and the few compare-and-set rules that must be atomic. A `route` is a short
 * string derived from the user id (and embedded in token values) so that a sharded store can
 * keep one user's subtree together and find a token from its value alone; stores that do not
 * shard ignore it.
 */
import type {
  BrowserSessionRecord,
  ClientRecord,
  GrantContext,
  GrantRecord,
  ReuseMarker,
  TokenContext,
  TokenRecord,
  UserRecord,
} from '../tree/records.js';

/** Address of a node: a user, a client session (user, client) or a grant. */
export interface NodePath {
  readonly route: string;
  readonly userId: string;
  readonly clientId?: string;
  readonly grantId?: string;
}

/** Address of a grant. */
export interface GrantPath extends NodePath {
  readonly clientId: string;
  readonly grantId: string;
}

/** A user node with the ids of its client sessions. */
export interface UserView {
  readonly user: UserRecord;
  readonly clientIds: readonly string[];
}

/** A client session node with the ids of its grants. */
export interface ClientView {
  readonly user: UserRecord;
  readonly client: ClientRecord;
  readonly grantIds: readonly string[];
}

/** What a token value resolves to: a live record, or the marker left by a consumed one. */
export type TokenLookup =
  | (TokenContext & { readonly marker?: undefined })
  | (GrantContext & { readonly marker: ReuseMarker; readonly token?: undefined });

/** What to do when a single-use token is presented again (SPEC §5). */
export type ReusePolicy = 'grant' | 'descendants' | 'none';

export interface ConsumeRequest {
  /** The id of the record the manager checked; guards against a swapped record. */
  readonly tokenId: string;
  readonly now: number;
  /** Tokens minted by this redemption; written only if the consume succeeds. */
  readonly mint: readonly TokenRecord[];
  /** What a reuse revokes. */
  readonly onReuse: ReusePolicy;
  /** A reuse within this many ms of the first use revokes nothing (benign retry); 0 disables the window. */
  readonly graceMs: number;
}

export type ConsumeResult =
  | { readonly status: 'ok' }
  | { readonly status: 'unknown' }
  | { readonly status: 'revoked' }
  | { readonly status: 'reused'; readonly revoked: 'grant' | 'descendants' | 'nothing' };

/** Who a logout affects: every grant of the user, as it was before the logout. */
export interface LogoutResult {
  readonly grants: readonly GrantContext[];
  readonly browserSessionIds: readonly string[];
}

/** Plain-JSON export of a whole tree. Contains no secrets and no token values. */
export interface TreeDump {
  readonly version: 1;
  readonly users: readonly UserRecord[];
  readonly clients: readonly ClientRecord[];
  readonly grants: readonly GrantRecord[];
  readonly tokens: readonly TokenRecord[];
  readonly markers: readonly ReuseMarker[];
}

export interface SessionStore {
  /**
   * Adds a grant, creating the user and client nodes when absent. A revoked client node is
   * reset to a fresh client session (its old grants were revoked with it and stay revoked).
   */
  createGrant(route: string, grant: GrantRecord, now: number): Promise<void>;

  getUser(route: string, userId: string): Promise<UserView | undefined>;
  getClient(route: string, userId: string, clientId: string): Promise<ClientView | undefined>;
  getGrant(path: GrantPath): Promise<GrantContext | undefined>;
  /** Every grant record under a user (or one client session of it), newest first. */
  listGrants(route: string, userId: string, clientId?: string): Promise<GrantContext[]>;
  /** Live token records of a grant (consumed single-use tokens are markers, not listed). */
  listTokens(path: GrantPath): Promise<TokenRecord[]>;

  /** Resolves a token hash. One round trip: this is on every validation. */
  findToken(route: string, hash: string): Promise<TokenLookup | undefined>;

  /**
   * Optional, for stores that hold the tree in this process in one index over every user:
   * {@link findToken} answered at once, without a promise, and without a route (there is no
   * shard to pick; the manager still checks the route against the owner). A validation on such a
   * store takes about a microsecond, and the promise round of an async call was a tenth of that.
   */
  findTokenNow?(hash: string): TokenLookup | undefined;

  /** Adds tokens to a grant; false (nothing written) if the grant no longer exists. */
  addTokens(path: GrantPath, tokens: readonly TokenRecord[]): Promise<boolean>;

  /**
   * Optional: {@link getGrant} and {@link addTokens} as one step, for stores where a read costs
   * a round trip. Calls `build` with the grant's context and writes the tokens it returns only
   * if the user, client session and grant are, at the moment of writing, exactly as `build` saw
   * them; otherwise it reads them again and calls `build` again. So the context may come from
   * the store's memory of records it recently read or wrote (no read at all) without a decision
   * ever resting on stale records. What `build` throws on current records propagates, with
   * nothing written. False (nothing written) when the grant does not exist. The tokens written
   * are those of the last call of `build`. Without it the manager calls getGrant, then addTokens.
   */
  mintFromGrant?(path: GrantPath, build: (ctx: GrantContext) => Promise<readonly TokenRecord[]>): Promise<boolean>;

  /**
   * Atomically uses a token once: if it is live and below its `maxUsage`, counts the use
   * (turning it into a reuse marker when used up) and writes `mint`; if it is used up, or a
   * marker, applies the reuse policy instead and writes nothing else.
   */
  consume(route: string, hash: string, req: ConsumeRequest): Promise<ConsumeResult>;

  /** Marks a grant revoked; its tokens become inactive through the activity rule. */
  revokeGrant(path: GrantPath): Promise<boolean>;
  /** Marks a client session and every grant under it revoked. */
  revokeClient(route: string, userId: string, clientId: string): Promise<boolean>;
  /**
   * Revokes a token and every token minted from it (iteratively); returns how many. For a
   * refresh token that was already rotated out (only its reuse marker is left) this includes
   * its successors, i.e. its whole rotation family, exactly as for a live member.
   */
  revokeToken(path: GrantPath, tokenId: string): Promise<number>;

  /**
   * Logs a user out everywhere: increments the epoch (killing tokens that are not offline)
   * and ends every browser session; with `keepOffline: false` also revokes every client
   * session. Returns the grants as they were, for logout notifications.
   */
  logoutUser(route: string, userId: string, opts: { keepOffline: boolean; now: number }): Promise<LogoutResult | undefined>;

  /** Records a browser session under the user (creating the user node when absent). */
  addBrowserSession(route: string, userId: string, session: BrowserSessionRecord): Promise<UserRecord>;
  /** Ends one browser session; tokens bound to it become inactive. */
  removeBrowserSession(route: string, userId: string, browserSessionId: string): Promise<boolean>;

  /** Removes a user, client session or grant with everything below it. */
  remove(path: NodePath): Promise<boolean>;

  /** Removes up to `limit` expired records; returns how many were removed. */
  purgeExpired(now: number, limit: number): Promise<number>;

  dump(): Promise<TreeDump>;
  /** Adds the records of a dump (validated by the manager) to the store; `routeOf` places each user. */
  load(data: TreeDump, routeOf: (userId: string) => string): Promise<void>;
}
