/**
 * Token lineage: which tokens descend from which. Iterative (explicit queue and visited set),
 * so a chain of any length is walked without stack growth (B-04).
 *
 * A rotated refresh token is replaced by its successor (which takes its place under the same
 * parent), so lineage also follows families: reaching a refresh token reaches every token of
 * its rotation family, including access tokens minted from retired members. Reaching an
 * access token reaches only its own descendants.
 */
import type { TokenRecord } from './records.js';

/** The tokens among `tokens` that descend from `rootIds` or belong to `families`, roots included. */
export function collectDescendants(tokens: readonly TokenRecord[], rootIds: readonly string[], families: readonly string[]): TokenRecord[] {
  const children = new Map<string, TokenRecord[]>();
  const byFamily = new Map<string, TokenRecord[]>();
  const byId = new Map<string, TokenRecord>();
  for (const t of tokens) {
    byId.set(t.id, t);
    if (t.basedOn !== undefined) push(children, t.basedOn, t);
    if (t.familyId !== undefined) push(byFamily, t.familyId, t);
  }
  const seen = new Set<string>();
  const seenFamilies = new Set<string>();
  const out: TokenRecord[] = [];
  const queue: string[] = [...rootIds];
  const visitFamily = (f: string): void => {
    if (seenFamilies.has(f)) return;
    seenFamilies.add(f);
    for (const t of byFamily.get(f) ?? []) queue.push(t.id);
  };
  for (const f of families) visitFamily(f);
  while (queue.length > 0) {
    const id = queue.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const t = byId.get(id);
    if (t) {
      out.push(t);
      if (t.familyId !== undefined && t.class === 'refresh_token') visitFamily(t.familyId);
    }
    for (const c of children.get(id) ?? []) queue.push(c.id);
  }
  return out;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
