/** Unambiguous byte encodings shared by session ids and subject identifiers. */

const textEncoder = new TextEncoder();

/** Length-prefixed concatenation (4-byte big-endian length + UTF-8): injective for any parts. */
export function encodeParts(parts: readonly string[]): Buffer {
  const encoded = parts.map((p) => textEncoder.encode(p));
  const out = Buffer.allocUnsafe(1 + encoded.reduce((n, e) => n + 4 + e.length, 0));
  out[0] = parts.length;
  let off = 1;
  for (const e of encoded) {
    out.writeUInt32BE(e.length, off);
    off += 4;
    out.set(e, off);
    off += e.length;
  }
  return out;
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
