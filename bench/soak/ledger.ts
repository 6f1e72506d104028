/**
 * What the soak's workers saw: every token value they received (codes from callbacks; access,
 * refresh and ID tokens from token responses), when, and until when it can be expected to be
 * kept; every PKCE verifier they made; how many flows of each kind ran and how they ended; and
 * every expectation that failed. The audit compares the store with this record.
 */

export type ValueKind = 'authorization_code' | 'access_token' | 'refresh_token' | 'id_token';

export interface Received {
  readonly value: string;
  readonly kind: ValueKind;
  readonly receivedAt: number;
  /** Wall-clock ms after which the store may have dropped the record (its expiry). */
  readonly expiresAt: number;
}

export class Ledger {
  readonly received: Received[] = [];
  readonly verifiers: string[] = [];
  readonly flows = new Map<string, { ok: number; failed: number }>();
  /** Expectations that did not hold (a flow answered something a correct provider cannot). */
  readonly violations: string[] = [];
  /** Checks that held (each assertion a flow made about a response). */
  checks = 0;
  /** Consent pages the workers answered "allow" on. */
  consents = 0;

  receive(value: string | undefined, kind: ValueKind, lifetimeSeconds: number): void {
    if (value === undefined) return;
    const now = Date.now();
    this.received.push({ value, kind, receivedAt: now, expiresAt: now + lifetimeSeconds * 1000 });
  }

  flow(name: string, ok: boolean): void {
    let f = this.flows.get(name);
    if (!f) this.flows.set(name, (f = { ok: 0, failed: 0 }));
    if (ok) f.ok++;
    else f.failed++;
  }

  /** Records a check; a failed one is a violation (message names ids and outcomes, never values). */
  expect(cond: boolean, message: string): void {
    this.checks++;
    if (!cond) this.violations.push(message);
  }
}
