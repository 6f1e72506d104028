/**
 * Summary statistics for benchmark samples. Percentiles are nearest-rank, the same definition
 * the peer benchmark (`../shared/peer-bench/bench/lib.js`) uses, so figures are comparable.
 */

/** Percentile `p` (0–100) of an ascending-sorted array, nearest-rank. NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export interface Summary {
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Mean, p50, p90, p99 and max of a set of samples (the input is not modified). */
export function summarize(samples: ArrayLike<number>): Summary {
  const arr = Float64Array.from(samples as ArrayLike<number>);
  arr.sort();
  let sum = 0;
  for (const v of arr) sum += v;
  return {
    mean: arr.length ? sum / arr.length : NaN,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr.length ? arr[arr.length - 1]! : NaN,
  };
}

/** Median of a list of numbers (mean of the middle two for an even count). NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Index of the median element (the lower middle for an even count), to pick a whole round. */
export function medianIndex(values: readonly number[]): number {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  return order[(order.length - 1) >> 1]![1];
}

/** Rounds to `digits` decimals; non-finite values pass through. */
export function round(v: number, digits = 1): number {
  return Number.isFinite(v) ? Number(v.toFixed(digits)) : v;
}
