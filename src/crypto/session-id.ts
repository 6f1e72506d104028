/**
 * Session ids (SPEC §3.1): AES-256-GCM over a versioned, length-prefixed encoding of the
 * path [userId, clientId?, grantId?], URL-safe base64 without padding.
 *
 * Layout: version (1 byte) | key id length (1) | key id | nonce (12) | ciphertext | tag (16).
 * The version and key id are also bound as additional data, so neither can be swapped.
 * The same path seals to a different string each time; equality is by decrypted path.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { InvalidInput, InvalidSessionId } from '../errors.js';
import { decodeParts, encodeParts, strictBase64url } from './encoding.js';
import { Memo } from './memo.js';
import { randomBytesPooled } from './token-value.js';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;
/** A session id longer than this cannot be one of ours (3 ids of MAX_ID_LENGTH plus overhead). */
export const MAX_SESSION_ID_LENGTH = 40_000;
/**
 * Recently sealed or opened ids and their paths. A session id is usually opened right after it
 * was sealed (createSession, then mintToken) and then again on every call of the same request;
 * each AES-GCM open costs several microseconds. Only ids up to 512 characters are remembered.
 */
const OPENED_CAPACITY = 4096;
const OPENED_MAX_ID_LENGTH = 512;

/** One key of the ring: `kid` is public, `key` is 32 secret bytes. */
export interface SessionIdKey {
  readonly kid: string;
  readonly key: Uint8Array;
}

/** The decrypted path a session id names. */
export interface SessionPath {
  readonly userId: string;
  readonly clientId?: string;
  readonly grantId?: string;
}

export class SessionIdCodec {
  readonly #current: SessionIdKey;
  /** version | key id length | key id of the sealing key: the head of every id it seals, and its AAD. */
  readonly #sealHeader: Buffer;
  readonly #byKid = new Map<string, SessionIdKey>();
  // The ring never changes after construction, so an id always opens to the same path.
  readonly #opened = new Memo<SessionPath>(OPENED_CAPACITY, OPENED_MAX_ID_LENGTH);

  /** `keys[0]` seals new ids; every key in the ring opens ids it sealed. */
  constructor(keys: readonly SessionIdKey[]) {
    if (keys.length === 0) throw new InvalidInput('the session id key ring is empty');
    for (const k of keys) {
      if (typeof k.kid !== 'string' || k.kid.length === 0 || Buffer.byteLength(k.kid) > 64) {
        throw new InvalidInput('session id key ids must be 1 to 64 bytes');
      }
      if (!(k.key instanceof Uint8Array) || k.key.length !== 32) throw new InvalidInput('session id keys must be 32 bytes');
      if (this.#byKid.has(k.kid)) throw new InvalidInput('session id key ids must be distinct');
      this.#byKid.set(k.kid, { kid: k.kid, key: Uint8Array.from(k.key) });
    }
    this.#current = this.#byKid.get(keys[0]!.kid)!;
    const kid = Buffer.from(this.#current.kid);
    this.#sealHeader = Buffer.concat([Buffer.from([VERSION, kid.length]), kid]);
  }

  seal(path: SessionPath): string {
    const parts = [path.userId];
    if (path.clientId !== undefined) parts.push(path.clientId);
    if (path.grantId !== undefined) parts.push(path.grantId);
    const header = this.#sealHeader;
    const nonce = randomBytesPooled(NONCE);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, nonce);
    cipher.setAAD(header);
    const plain = encodeParts(parts);
    const body = cipher.update(plain);
    const tail = cipher.final(); // empty for GCM, a stream mode; kept for the general case
    // One output buffer instead of concatenations: this runs once per new grant.
    const out = Buffer.allocUnsafe(header.length + NONCE + body.length + tail.length + TAG);
    let off = header.copy(out, 0);
    off += nonce.copy(out, off);
    off += body.copy(out, off);
    off += tail.copy(out, off);
    cipher.getAuthTag().copy(out, off);
    const id = out.toString('base64url');
    // Empty parts never reach here (the manager checks ids), but they must never open either.
    if (!parts.some((p) => p.length === 0)) this.#opened.set(id, pathOf(parts));
    return id;
  }

  /** Opens a session id; anything not sealed by a key of the ring is {@link InvalidSessionId}. */
  open(sessionId: unknown): SessionPath {
    if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > MAX_SESSION_ID_LENGTH) {
      throw new InvalidSessionId();
    }
    const known = this.#opened.peek(sessionId);
    if (known) return known;
    const raw = strictBase64url(sessionId);
    if (!raw || raw.length < 2 || raw[0] !== VERSION) throw new InvalidSessionId();
    const kidLen = raw[1]!;
    const headerLen = 2 + kidLen;
    if (raw.length < headerLen + NONCE + TAG + 1) throw new InvalidSessionId();
    const key = this.#byKid.get(raw.subarray(2, headerLen).toString());
    if (!key) throw new InvalidSessionId();
    let plain: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, raw.subarray(headerLen, headerLen + NONCE));
      decipher.setAAD(raw.subarray(0, headerLen));
      decipher.setAuthTag(raw.subarray(raw.length - TAG));
      plain = Buffer.concat([decipher.update(raw.subarray(headerLen + NONCE, raw.length - TAG)), decipher.final()]);
    } catch {
      throw new InvalidSessionId();
    }
    const parts = decodeParts(plain);
    if (!parts || parts.length < 1 || parts.length > 3 || parts.some((p) => p.length === 0)) throw new InvalidSessionId();
    const path = pathOf(parts);
    this.#opened.set(sessionId, path);
    return path;
  }
}

/** The path of 1 to 3 decoded parts, frozen: remembered paths are shared between callers. */
function pathOf(parts: readonly string[]): SessionPath {
  const [userId, clientId, grantId] = parts as [string, string?, string?];
  // One literal per shape: no conditional spreads (V8's slow path), and no properties spilled
  // out of the object by later assignments (these paths fill a 4096-entry memo).
  if (grantId !== undefined) return Object.freeze({ userId, clientId: clientId!, grantId });
  if (clientId !== undefined) return Object.freeze({ userId, clientId });
  return Object.freeze({ userId });
}
