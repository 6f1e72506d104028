/**
 * Usage rules as immutable values (B-13, B-31, B-57): every rule set handed in is copied and
 * frozen, so no caller, token or grant can change another's rules or the defaults.
 */
import { InvalidInput } from '../errors.js';
import type { UsageRules } from './records.js';
import { requireId } from './validate.js';

/**
 * Longest lifetime, in seconds, of anything the tree holds (a token, a grant, a refresh chain): far
 * beyond any real policy, and small enough that every expiry stays a safe, JSON- and Redis-able
 * millisecond time.
 */
export const MAX_LIFETIME_SECONDS = 10 * 365 * 86400;

export const BUILTIN_CLASSES = ['authorization_code', 'access_token', 'refresh_token', 'id_token'] as const;

/** Defaults per class (seconds). Codes are single-use (RFC 6749 §4.1.2); refresh tokens rotate. */
export const DEFAULT_USAGE_RULES: Readonly<Record<string, UsageRules>> = Object.freeze({
  authorization_code: freezeRules({ expiresIn: 300, maxUsage: 1, supportsMinting: ['access_token', 'refresh_token', 'id_token'] }),
  access_token: freezeRules({ expiresIn: 3600, supportsMinting: [] }),
  refresh_token: freezeRules({ expiresIn: 14 * 86400, maxUsage: 1, supportsMinting: ['access_token', 'refresh_token', 'id_token'] }),
  id_token: freezeRules({ expiresIn: 3600, supportsMinting: [] }),
});

function freezeRules(r: UsageRules): UsageRules {
  return Object.freeze({ ...r, supportsMinting: Object.freeze([...r.supportsMinting]) });
}

/** Validates and copies one rule set; omitted fields come from `base`. */
export function normalizeRules(input: unknown, base: UsageRules | undefined, name: string): UsageRules {
  if (input === undefined) {
    if (!base) throw new InvalidInput(`${name}: no usage rules for this token class`);
    return base;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new InvalidInput(`${name} must be an object`);
  const r = input as Record<string, unknown>;
  const out: { expiresIn?: number; maxUsage?: number; supportsMinting: string[]; format?: 'opaque' | 'jwt' } = {
    supportsMinting: [...(base?.supportsMinting ?? [])],
  };
  const expiresIn = Object.hasOwn(r, 'expiresIn') ? r.expiresIn : base?.expiresIn;
  if (expiresIn !== undefined) {
    // A token born expired (expiresIn ≤ 0) is a configuration error, not a policy.
    if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0 || expiresIn > MAX_LIFETIME_SECONDS) {
      throw new InvalidInput(`${name}.expiresIn must be a positive number of seconds`);
    }
    out.expiresIn = expiresIn;
  }
  const maxUsage = Object.hasOwn(r, 'maxUsage') ? r.maxUsage : base?.maxUsage;
  if (maxUsage !== undefined) {
    if (!Number.isSafeInteger(maxUsage) || (maxUsage as number) < 1) throw new InvalidInput(`${name}.maxUsage must be a positive integer`);
    out.maxUsage = maxUsage as number;
  }
  if (Object.hasOwn(r, 'supportsMinting')) {
    const list = r.supportsMinting;
    if (!Array.isArray(list) || list.length > 32) throw new InvalidInput(`${name}.supportsMinting must be an array of token classes`);
    out.supportsMinting = list.map((c) => requireId(c, `${name}.supportsMinting entry`, 64));
  }
  const format = Object.hasOwn(r, 'format') ? r.format : base?.format;
  if (format !== undefined) {
    if (format !== 'opaque' && format !== 'jwt') throw new InvalidInput(`${name}.format must be opaque or jwt`);
    out.format = format;
  }
  return freezeRules(out);
}

/** Validates a per-class rule table and lays it over `base`. */
export function normalizeRuleTable(
  input: unknown,
  base: Readonly<Record<string, UsageRules>>,
  name: string,
): Readonly<Record<string, UsageRules>> {
  if (input === undefined) return base;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new InvalidInput(`${name} must be an object`);
  const out: Record<string, UsageRules> = { ...base };
  for (const cls of Object.keys(input)) {
    requireId(cls, `${name} class`, 64);
    if (cls === '__proto__') throw new InvalidInput(`${name}: "__proto__" is not a token class`);
    out[cls] = normalizeRules((input as Record<string, unknown>)[cls], Object.hasOwn(base, cls) ? base[cls] : undefined, `${name}.${cls}`);
  }
  return Object.freeze(out);
}
