/**
 * Reading request parameters. OAuth parameters are single strings (RFC 6749 §3.1: "MUST NOT be
 * included more than once"); a repeated or oversized parameter is `invalid_request`, never a
 * crash. Lookups use `Object.hasOwn`, so names like `__proto__` are just absent parameters.
 */
import { OAuthError } from './oauth-errors.js';

/** Upper bounds on parameter lengths: enough for any honest client, small enough to bound work. */
export const LIMITS = {
  default: 2048,
  state: 2048,
  nonce: 512,
  scope: 2048,
  uri: 2048,
  token: 4096, // id_token_hint and tokens
} as const;

export type Params = Readonly<Record<string, unknown>>;

/** The parameter source as a plain record (query or urlencoded body), or an empty one. */
export function paramsOf(source: unknown): Params {
  return source !== null && typeof source === 'object' && !Array.isArray(source) ? (source as Params) : {};
}

/** One optional string parameter: absent → undefined; empty string → undefined (RFC 6749 §3.1). */
export function optionalParam(params: Params, name: string, max: number = LIMITS.default): string | undefined {
  if (!Object.hasOwn(params, name)) return undefined;
  const v = params[name];
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `parameter ${name} must be given once`);
  if (v.length > max) throw new OAuthError('invalid_request', `parameter ${name} is too long`);
  return v;
}

/** One required string parameter. */
export function requiredParam(params: Params, name: string, max: number = LIMITS.default): string {
  const v = optionalParam(params, name, max);
  if (v === undefined) throw new OAuthError('invalid_request', `parameter ${name} is required`);
  return v;
}

/** Space-delimited list (scope, prompt), deduplicated, order kept. */
export function spaceList(value: string | undefined): string[] {
  return value === undefined ? [] : [...new Set(value.split(' ').filter(Boolean))];
}
