/**
 * The timing loop shared by our benchmarks: the same method as the peer benchmark
 * (`../shared/peer-bench/bench/model.js`), so both systems are measured alike:
 * each op is timed on its own with `process.hrtime.bigint()`, and
 * `ops/s = n / wall time of the whole timed loop`. At concurrency 1 every op is awaited before
 * the next starts (latency); above 1, that many ops are kept in flight (throughput).
 */
import { summarize } from './stats.js';

export interface LoopResult {
  readonly n: number;
  readonly concurrency: number;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** Runs `fn(i)` for i in [0, n) with `concurrency` async workers; results in index order. */
export async function parallel<T>(n: number, fn: (i: number) => Promise<T> | T, concurrency = 64): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, n)) }, worker));
  return out;
}

/**
 * Times `op(inputs[i], i)` for every input. An op that throws fails the whole loop: a benchmark
 * that silently measures errors is worse than none.
 */
export async function timeLoop<I>(inputs: readonly I[], op: (input: I, i: number) => Promise<unknown>, concurrency = 1): Promise<LoopResult> {
  const n = inputs.length;
  const lat = new Float64Array(n);
  const one = async (i: number) => {
    const s = process.hrtime.bigint();
    await op(inputs[i]!, i);
    lat[i] = Number(process.hrtime.bigint() - s) / 1e3;
  };
  const t0 = process.hrtime.bigint();
  if (concurrency === 1) {
    for (let i = 0; i < n; i++) await one(i);
  } else {
    await parallel(n, one, concurrency);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = summarize(lat);
  return {
    n,
    concurrency,
    seconds,
    opsPerSec: n / seconds,
    meanUs: s.mean,
    p50Us: s.p50,
    p90Us: s.p90,
    p99Us: s.p99,
    maxUs: s.max,
  };
}
