/**
 * OpenID Connect Back-Channel Logout 1.0: builds logout tokens (§2.4) and POSTs them to every
 * affected client's `backchannel_logout_uri` (§2.5). Delivery is best effort, in parallel,
 * bounded by a timeout, and never follows redirects (§2.5: the RP must not redirect).
 */
import { randomBytes, type webcrypto } from 'node:crypto';
import { SignJWT } from 'jose';
import type { LogoutNotice } from '../../src/index.js';
import type { ClientRegistry } from './clients.js';
import type { Provider } from './context.js';

/** The event member of a logout token (§2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface Signer {
  readonly issuer: string;
  readonly privateKey: webcrypto.CryptoKey;
  /** Verifies our own tokens (id_token_hint). */
  readonly publicKey: webcrypto.CryptoKey;
  readonly kid: string;
}

export interface DeliveryResult {
  readonly clientId: string;
  readonly ok: boolean;
  /** HTTP status, or undefined when the request failed (timeout, refused). */
  readonly status?: number;
}

/**
 * A logout token for one client: `iss`, `aud`, `iat`, `exp`, `jti`, `events`, `sub` and — when
 * the session is known — `sid`; header `typ: logout+jwt` (§2.4). It never carries a `nonce`.
 */
export async function logoutToken(signer: Signer, notice: LogoutNotice, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT({
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    sub: notice.sub,
    ...(notice.sid !== undefined && { sid: notice.sid }),
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'logout+jwt', kid: signer.kid })
    .setIssuer(signer.issuer)
    .setAudience(notice.clientId)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 120)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(signer.privateKey);
}

/**
 * Sends a logout token for each notice whose client registered a `backchannel_logout_uri`.
 * Notices are deduplicated per (client, sid, sub). A client that requires `sid`
 * (`backchannel_logout_session_required`) still gets a `sub`-only token for grants that came
 * without a browser session, because that is all there is to say about them.
 */
export async function notifyBackchannel(
  notices: readonly LogoutNotice[],
  clients: ClientRegistry,
  signer: Signer,
  options: { timeoutMs: number; log: (message: string) => void },
): Promise<DeliveryResult[]> {
  const seen = new Set<string>();
  const jobs: Promise<DeliveryResult>[] = [];
  for (const n of notices) {
    const client = clients.get(n.clientId);
    if (!client?.backchannel_logout_uri) continue;
    const key = JSON.stringify([n.clientId, n.sid ?? '', n.sub]);
    if (seen.has(key)) continue;
    seen.add(key);
    const uri = client.backchannel_logout_uri;
    jobs.push(
      (async (): Promise<DeliveryResult> => {
        try {
          const res = await fetch(uri, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ logout_token: await logoutToken(signer, n) }).toString(),
            redirect: 'manual',
            signal: AbortSignal.timeout(options.timeoutMs),
          });
          await res.body?.cancel();
          // §2.8: 200 (or 204) is success; anything else is a failure to report.
          const ok = res.status === 200 || res.status === 204;
          if (!ok) options.log(`back-channel logout to client ${JSON.stringify(n.clientId)} answered ${res.status}`);
          return { clientId: n.clientId, ok, status: res.status };
        } catch (e) {
          options.log(`back-channel logout to client ${JSON.stringify(n.clientId)} failed: ${deliveryFailure(e, options.timeoutMs)}`);
          return { clientId: n.clientId, ok: false };
        }
      })(),
    );
  }
  return Promise.all(jobs);
}

/**
 * Why a delivery failed, for the log. fetch rejects with a bare `TypeError: fetch failed` and keeps
 * the reason in `cause` (ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, …), so that is what is reported:
 * its code and its message, which comes from the network layer (the token travels in the body and
 * is never part of it). The rejection's own message is never used: it can quote the URI.
 */
function deliveryFailure(e: unknown, timeoutMs: number): string {
  const err = e as { name?: unknown; cause?: unknown } | null | undefined;
  if (err?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = err?.cause as { name?: unknown; code?: unknown; message?: unknown; errors?: unknown } | null | undefined;
  // Several addresses tried (happy eyeballs): an AggregateError whose members carry the codes.
  const members = Array.isArray(cause?.errors) ? (cause.errors as Array<{ code?: unknown }>) : [];
  const code = [cause?.code, ...members.map((m) => m?.code)].find((c): c is string => typeof c === 'string');
  const message = typeof cause?.message === 'string' && cause.message !== '' ? cause.message.slice(0, 200) : undefined;
  if (code !== undefined) return message !== undefined ? `${code} (${message})` : code;
  if (message !== undefined) return `${typeof cause?.name === 'string' ? cause.name : 'Error'}: ${message}`;
  return typeof err?.name === 'string' ? err.name : 'unknown error';
}

/** Sends back-channel logout tokens for `notices` with the provider's settings. */
export async function backchannel(p: Provider, notices: readonly LogoutNotice[]): Promise<DeliveryResult[]> {
  return notifyBackchannel(notices, p.clients, p.signer, { timeoutMs: p.backchannelTimeoutMs, log: (m) => p.log.warn(m) });
}
