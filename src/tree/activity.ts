/**
 * The activity rule (SPEC §4): a token is active only if it and everything above it are live.
 * Pure: it reads records and a clock value, nothing else.
 *
 * Ancestor tokens are not walked here: revoking a token revokes its descendants in the same
 * store step, so a live record already implies a live parent chain and validation stays O(1)
 * however long a refresh chain grows (B-04, B-46).
 */
import type { InactiveReason } from '../errors.js';
import type { GrantContext, TokenContext, UserRecord } from './records.js';

/** Why the grant (with its client session) cannot back tokens, or undefined when it can. */
export function grantInactiveReason(ctx: GrantContext, now: number): InactiveReason | undefined {
  if (ctx.client.revoked) return 'client_session_revoked';
  if (ctx.grant.revoked) return 'grant_revoked';
  if (ctx.grant.expiresAt <= now) return 'grant_expired';
  return undefined;
}

/** True when the browser session exists, is unexpired and belongs to the current epoch. */
export function browserSessionLive(user: UserRecord, browserSessionId: string, now: number): boolean {
  const bs = Object.hasOwn(user.browserSessions, browserSessionId) ? user.browserSessions[browserSessionId] : undefined;
  return bs !== undefined && bs.expiresAt > now && bs.epoch === user.epoch;
}

/** Why the token is not active, or undefined when it is. */
export function tokenInactiveReason(ctx: TokenContext, now: number): InactiveReason | undefined {
  const t = ctx.token;
  if (t.revoked) return 'revoked';
  if (t.usageRules.maxUsage !== undefined && t.used >= t.usageRules.maxUsage) return 'used';
  if (t.expiresAt <= now) return 'expired';
  if (t.notBefore > now) return 'not_yet_valid';
  const grantReason = grantInactiveReason(ctx, now);
  if (grantReason) return grantReason;
  if (!t.offline) {
    if (t.epoch < ctx.user.epoch) return 'user_logged_out';
    if (t.browserSessionId !== undefined && !browserSessionLive(ctx.user, t.browserSessionId, now)) {
      return 'browser_session_ended';
    }
  }
  return undefined;
}
