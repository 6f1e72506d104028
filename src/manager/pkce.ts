/** PKCE verification (RFC 7636 §4.6), constant-time. */
import { hash, timingSafeEqual } from 'node:crypto';
import type { CodeBinding } from '../tree/records.js';

/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;

export function isValidCodeChallenge(challenge: unknown): challenge is string {
  return typeof challenge === 'string' && VERIFIER.test(challenge);
}

/** True when `verifier` answers the code's challenge (or the code had none and no verifier came). */
export function pkceMatches(binding: CodeBinding | undefined, verifier: string | undefined): boolean {
  const challenge = binding?.codeChallenge;
  if (challenge === undefined) return verifier === undefined;
  if (verifier === undefined || !VERIFIER.test(verifier)) return false;
  const computed = binding!.codeChallengeMethod === 'plain' ? verifier : hash('sha256', verifier, 'base64url');
  return constantTimeEqual(computed, challenge);
}

/** Compares two strings without revealing where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  // Compare equal-length digests so the length of the secret does not leak either.
  return timingSafeEqual(Buffer.from(hash('sha256', ab, 'buffer')), Buffer.from(hash('sha256', bb, 'buffer'))) && ab.length === bb.length;
}
