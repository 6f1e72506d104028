/**
 * The oidc part of an express session: the one key (`sessionKey`, default `'oidc'`) the
 * middleware reads and writes. It is a pointer into the tree, not a copy of it: the user, the
 * browser session id and the authentication event. The tree decides whether that pointer is
 * still good (one read per request), so nothing stale in a cookie's session can outlive a logout.
 *
 * The record comes back from a session store as JSON that anyone with store access could have
 * written, so it is validated field by field before use and replaced by nothing when malformed.
 */
import type { AuthnEvent } from '../tree/records.js';
import { MAX_ID_LENGTH } from '../tree/validate.js';

/** Version of the stored shape; a record of another version is treated as logged out. */
export const STATE_VERSION = 1;
/** The `clients` list is a convenience copy; the tree is authoritative. Bounded like every input. */
export const MAX_CLIENTS = 256;
const MAX_BROWSER_SESSION_ID = 256;
const MAX_AMR = 32;

/** What is stored under `sessionKey`. Plain JSON. */
export interface OidcState {
  v: typeof STATE_VERSION;
  userId: string;
  /** The browser session's id in the tree (stable across id rotation on step-up). */
  browserSessionId: string;
  authnEvent: AuthnEvent;
  /** Clients this browser session authorized, oldest first. */
  clients: string[];
}

function isId(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= max && v.isWellFormed();
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The validated state, or undefined when `raw` is not a well-formed record of this version. */
export function parseState(raw: unknown): OidcState | undefined {
  if (!isPlain(raw) || raw.v !== STATE_VERSION) return undefined;
  const { userId, browserSessionId, authnEvent: e, clients } = raw;
  if (!isId(userId, MAX_ID_LENGTH) || !isId(browserSessionId, MAX_BROWSER_SESSION_ID) || !isPlain(e)) return undefined;
  if (e.userId !== userId || !isTime(e.authnTime) || !isTime(e.validUntil)) return undefined;
  if (e.authnInfo !== undefined && !isId(e.authnInfo, 256)) return undefined;
  if (e.amr !== undefined && !(Array.isArray(e.amr) && e.amr.length <= MAX_AMR && e.amr.every((a) => isId(a, 256)))) return undefined;
  if (!Array.isArray(clients) || clients.length > MAX_CLIENTS || !clients.every((c) => isId(c, MAX_ID_LENGTH))) return undefined;
  // Normalise in place so the object stays the one express-session saves (identity matters to
  // the merging save); drop unknown fields so nothing foreign is carried forward.
  const state = raw as unknown as OidcState;
  for (const k in raw) if (!STATE_KEYS.has(k)) delete raw[k];
  for (const k in e) if (!EVENT_KEYS.has(k)) delete e[k];
  // Frozen in place (still plain JSON for the store): callers get it as `authnEvent`.
  if (e.amr !== undefined) Object.freeze(e.amr);
  Object.freeze(e);
  return state;
}

const EVENT_KEYS = new Set(['userId', 'authnInfo', 'amr', 'authnTime', 'validUntil']);

const STATE_KEYS = new Set(['v', 'userId', 'browserSessionId', 'authnEvent', 'clients']);

/** A frozen copy with only the known fields. */
export function authnEventOf(e: AuthnEvent): AuthnEvent {
  return Object.freeze({
    userId: e.userId,
    ...(e.authnInfo !== undefined && { authnInfo: e.authnInfo }),
    ...(e.amr !== undefined && { amr: Object.freeze([...e.amr]) }),
    authnTime: e.authnTime,
    validUntil: e.validUntil,
  });
}

/** Adds `clientId` to the list (bounded); true when the list changed. */
export function addClient(state: OidcState, clientId: string): boolean {
  if (state.clients.includes(clientId) || state.clients.length >= MAX_CLIENTS) return false;
  state.clients = [...state.clients, clientId];
  return true;
}

/**
 * Merges the clients another request saved for the same login into ours (a grow-only set:
 * no request removes a client while the login lasts, so union never loses an update).
 */
export function mergeClients(ours: OidcState, theirs: OidcState): void {
  const extra = theirs.clients.filter((c) => !ours.clients.includes(c));
  if (extra.length > 0) ours.clients = [...theirs.clients, ...ours.clients.filter((c) => !theirs.clients.includes(c))].slice(0, MAX_CLIENTS);
}

/** True when both name the same login (user, browser session and authentication event). */
export function sameLogin(a: OidcState, b: OidcState): boolean {
  return a.userId === b.userId && a.browserSessionId === b.browserSessionId && a.authnEvent.authnTime === b.authnEvent.authnTime;
}
