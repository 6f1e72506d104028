/**
 * Heap measurement after a full garbage collection, as the peer benchmark measures memory
 * (`../shared/peer-bench/bench/memory.js`): collect several times, yield to the event loop,
 * collect again, then read `heapUsed`.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFn = () => void;

let cached: GcFn | undefined;

/**
 * `global.gc` when node runs with `--expose-gc`; otherwise the flag is turned on at run time and
 * `gc` is taken from a fresh context (V8 installs it in contexts created after the flag is set).
 */
export function gcFunction(): GcFn {
  if (cached) return cached;
  const g = (globalThis as { gc?: GcFn }).gc;
  if (typeof g === 'function') return (cached = g);
  setFlagsFromString('--expose-gc');
  const fromContext = runInNewContext('gc') as GcFn | undefined;
  if (typeof fromContext !== 'function') throw new Error('cannot reach gc(): run node with --expose-gc');
  return (cached = fromContext);
}

/** Forces full collections, lets pending callbacks run, and returns the heap then in use. */
export async function settledHeap(): Promise<{ heapUsed: number; rss: number }> {
  const gc = gcFunction();
  for (let i = 0; i < 4; i++) gc();
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 2; i++) gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}
