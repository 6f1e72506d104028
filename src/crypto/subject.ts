/**
 * Subject identifiers (SPEC §3.2, OIDC Core §8). `public` and `pairwise` are HMAC-SHA-256
 * under the configured salt over a length-prefixed encoding, so no choice of user id and
 * sector can make two inputs collide (B-11); `ephemeral` is fresh randomness per grant.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { InvalidInput } from '../errors.js';
import type { SubjectType } from '../tree/records.js';
import { encodeParts } from './encoding.js';

export function computeSub(salt: Uint8Array, type: SubjectType, userId: string, sectorIdentifier?: string): string {
  switch (type) {
    case 'public':
      return createHmac('sha256', salt).update(encodeParts(['public', userId])).digest('base64url');
    case 'pairwise':
      if (!sectorIdentifier) throw new InvalidInput('a pairwise subject needs a sectorIdentifier');
      return createHmac('sha256', salt).update(encodeParts(['pairwise', sectorIdentifier, userId])).digest('base64url');
    case 'ephemeral':
      return randomBytes(32).toString('base64url');
    default:
      throw new InvalidInput('subType must be public, pairwise or ephemeral');
  }
}

/**
 * The sector identifier of a client registration (OIDC Core §8.1): the host of
 * `sector_identifier_uri` when registered, else the host of its single redirect URI.
 */
export function sectorIdentifierOf(client: { sector_identifier_uri?: string; redirect_uris?: readonly string[] }): string {
  const uri = client.sector_identifier_uri ?? client.redirect_uris?.[0];
  if (typeof uri !== 'string') throw new InvalidInput('client has no sector_identifier_uri or redirect_uris');
  try {
    return new URL(uri).host;
  } catch {
    throw new InvalidInput('client sector identifier URI is not a URL');
  }
}
