/** Unambiguous byte encodings shared by session ids and subject identifiers. */

/**
 * Length-prefixed concatenation (4-byte big-endian length + UTF-8): injective for any parts.
 * Written straight into one buffer (no intermediate encodings): it runs on every seal and HMAC.
 */
export function encodeParts(parts: readonly string[]): Buffer {
  let size = 1;
  for (const p of parts) size += 4 + Buffer.byteLength(p, 'utf8');
  const out = Buffer.allocUnsafe(size);
  out[0] = parts.length;
  let off = 1;
  for (const p of parts) {
    const len = out.write(p, off + 4, 'utf8');
    out.writeUInt32BE(len, off);
    off += 4 + len;
  }
  return off === size ? out : out.subarray(0, off);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Inverse of {@link encodeParts}; undefined for anything that is not a canonical encoding. */
export function decodeParts(buf: Uint8Array): string[] | undefined {
  if (buf.length < 1) return undefined;
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = view[0]!;
  const parts: string[] = [];
  let off = 1;
  for (let i = 0; i < count; i++) {
    if (off + 4 > view.length) return undefined;
    const len = view.readUInt32BE(off);
    off += 4;
    if (off + len > view.length) return undefined;
    try {
      parts.push(utf8.decode(view.subarray(off, off + len)));
    } catch {
      return undefined;
    }
    off += len;
  }
  return off === view.length ? parts : undefined;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict base64url (no padding) decoding: any other spelling of the bytes is refused. */
export function strictBase64url(s: string): Buffer | undefined {
  if (!BASE64URL.test(s) || s.length % 4 === 1) return undefined;
  const buf = Buffer.from(s, 'base64url');
  return buf.toString('base64url') === s ? buf : undefined;
}
