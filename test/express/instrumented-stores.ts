/**
 * Instrumentation around real stores: call counters and an outage switch. The store underneath
 * is the real one and does all the work; these only observe calls or refuse them while "down".
 */
import type { Store } from 'express-session';
import { StoreUnavailable } from '../../src/errors.js';
import type { SessionStore } from '../../src/store/store.js';

/** Counts calls per method of any object (a tree store or an express-session store). */
export class CallCounter {
  readonly calls = new Map<string, number>();
  reset(): void {
    this.calls.clear();
  }
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.calls].sort(([a], [b]) => a.localeCompare(b)));
  }
  /**
   * `selfCalls`: run the object's other methods with `this` = the proxy, so that calls it makes
   * to itself (express-session's `Store#regenerate` calls `this.destroy`) are counted too. Not
   * for classes with #private fields, which need `this` to be the real object.
   */
  wrap<T extends object>(target: T, methods: readonly string[], selfCalls = false): T {
    const proxy: T = new Proxy(target, {
      get: (t, p) => {
        const v = Reflect.get(t, p, t) as unknown;
        if (typeof v !== 'function') return v;
        if (typeof p !== 'string' || !methods.includes(p)) return v.bind(selfCalls ? proxy : t);
        return (...args: unknown[]) => {
          this.calls.set(p, (this.calls.get(p) ?? 0) + 1);
          return (v as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
    return proxy;
  }
}

/** The tree store's methods (what `manager.store` calls). */
export const TREE_METHODS = [
  'createGrant', 'getUser', 'getClient', 'getGrant', 'listGrants', 'listTokens', 'findToken', 'findTokenNow', 'addTokens', 'consume', 'revokeGrant',
  'revokeClient', 'revokeToken', 'logoutUser', 'addBrowserSession', 'removeBrowserSession', 'remove', 'purgeExpired', 'dump', 'load',
] as const;

/** express-session's store methods. */
export const SESSION_METHODS = ['get', 'set', 'destroy', 'touch'] as const;

/** A tree store whose every call fails with StoreUnavailable while `down` is true. */
export function withOutageSwitch(store: SessionStore): { store: SessionStore; setDown(down: boolean): void } {
  let down = false;
  const proxy = new Proxy(store, {
    get: (t, p) => {
      const v = Reflect.get(t, p, t) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => (down ? Promise.reject(new StoreUnavailable()) : (v as (...a: unknown[]) => unknown).apply(t, args));
    },
  });
  return { store: proxy, setDown: (d) => void (down = d) };
}

export type { Store };
