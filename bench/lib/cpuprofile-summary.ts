/**
 * Top frames of a V8 `.cpuprofile` (from `node --cpu-prof`): self time and total (inclusive)
 * time per function, as shares of all samples.
 *
 *   npx tsx bench/lib/cpuprofile-summary.ts PROFILE.cpuprofile [TOP=25]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { formatTable } from './table.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

export interface FrameShare {
  readonly frame: string;
  readonly selfPct: number;
  readonly totalPct: number;
}

const frameName = (n: ProfileNode) => {
  const url = n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, '$1/').replace(/^file:\/\//, '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
};

/** Self and inclusive sample shares per function, heaviest first by `sortBy`. */
export function summarizeProfile(profile: Profile, sortBy: 'self' | 'total' = 'self'): FrameShare[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const id of profile.samples) {
    const node = byId.get(id)!;
    self.set(frameName(node), (self.get(frameName(node)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const name = frameName(byId.get(cur)!);
      if (seen.has(name)) continue; // recursion: count a frame once per sample
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + 1);
    }
  }
  const n = profile.samples.length || 1;
  return [...total.keys()]
    .map((frame) => ({ frame, selfPct: ((self.get(frame) ?? 0) / n) * 100, totalPct: ((total.get(frame) ?? 0) / n) * 100 }))
    .sort((a, b) => (sortBy === 'self' ? b.selfPct - a.selfPct : b.totalPct - a.totalPct));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [file, topArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: cpuprofile-summary.ts PROFILE [TOP]');
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  for (const sortBy of ['self', 'total'] as const) {
    const rows = summarizeProfile(profile, sortBy)
      .slice(0, top)
      .map((f) => [f.frame, f.selfPct.toFixed(1), f.totalPct.toFixed(1)]);
    console.log(`\nby ${sortBy} time (${profile.samples.length} samples)\n`);
    console.log(formatTable(['frame', 'self %', 'total %'], rows, [1, 2]));
  }
}
