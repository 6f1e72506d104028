/**
 * Saving a logged-in express session without losing a concurrent request's changes.
 *
 * express-session writes whole sessions: two requests of one browser each load the session,
 * each change it, and the later save overwrites the earlier one. For the oidc part that would
 * drop a client one request authorized, or — worse — write back a login that a concurrent
 * logout destroyed. So the save of a session that carries (or carried) a login re-reads the
 * stored record first, under a per-session lock, and:
 *  - merges the `clients` the other request added (a grow-only set, so union is exact);
 *  - never writes back a login the store no longer has: when the record was destroyed (logout,
 *    expiry) the save is skipped, and when it holds another login or none, ours is dropped.
 *
 * The lock serialises saves of one session within this process; across processes the re-read
 * narrows the window but cannot close it (stores have no compare-and-set), which is why logout
 * notices come from the tree, where every step is atomic, and not from this list.
 */
import type { Session, Store } from 'express-session';
import { mergeClients, parseState, sameLogin } from './state.js';

type SaveCallback = (err?: unknown) => void;
type SessionWithReq = Session & { req: { sessionStore: Store }; [key: string]: unknown };

/** Per-process chains of pending saves, by session id. */
export class SaveLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs `task` after every earlier task for `id`; `task` calls `done` when finished. */
  run(id: string, task: (done: () => void) => void): void {
    const previous = this.#tails.get(id) ?? Promise.resolve();
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const tail = previous.then(() => {
      task(done);
      return finished;
    });
    this.#tails.set(id, tail);
    void tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
  }

  get size(): number {
    return this.#tails.size;
  }
}

/** Sessions created by `login()` in this request: not in the store yet, so "missing" is expected. */
const fresh = new WeakSet<object>();

/** Marks a just-regenerated session whose first save must create its record. */
export function markFresh(session: object): void {
  fresh.add(session);
}

/**
 * Replaces `session.save` (own, non-enumerable: never serialised) by a save that merges with
 * the stored record as described above. Idempotent per session object.
 */
export function installMergingSave(session: Session, key: string, locks: SaveLocks): void {
  const s = session as SessionWithReq;
  if (Object.hasOwn(s, 'save') && (s.save as { merging?: true }).merging) return;
  const inner = s.save;
  const save = function mergingSave(this: SessionWithReq, callback?: SaveCallback): SessionWithReq {
    const self = this;
    const cb: SaveCallback = typeof callback === 'function' ? callback : () => {};
    const store = self.req.sessionStore;
    const id = self.id;
    locks.run(id, (done) => {
      const finish = (err?: unknown) => {
        done();
        cb(err);
      };
      store.get(id, (err, stored) => {
        if (err) return finish(err);
        if (stored === null || stored === undefined) {
          // Destroyed (logout, login elsewhere in this browser, expiry) since this request loaded
          // it: writing it back would resurrect it. Only a brand-new session may be created.
          if (!fresh.has(self)) return finish();
          fresh.delete(self);
        } else {
          reconcile(self, (stored as unknown as Record<string, unknown>)[key], key);
        }
        try {
          inner.call(self, finish);
        } catch (e) {
          finish(e);
        }
      });
    });
    return self;
  };
  (save as { merging?: true }).merging = true;
  Object.defineProperty(s, 'save', { configurable: true, enumerable: false, writable: true, value: save });
}

/** Applies the stored oidc part to ours before the whole session is written. */
function reconcile(session: SessionWithReq, storedRaw: unknown, key: string): void {
  if (session[key] === undefined) return; // saving "no login" is always safe
  const ours = parseState(session[key]);
  const theirs = parseState(storedRaw);
  if (ours && theirs && sameLogin(ours, theirs)) mergeClients(ours, theirs);
  else delete session[key]; // the store no longer has this login: a stale request must not restore it
}
