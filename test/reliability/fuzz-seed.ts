/**
 * The seed of a fuzz run: fresh on every run, so each CI run tries inputs no earlier run tried, and
 * printed, so a failure can be replayed with `FUZZ_SEED=<seed> npx mocha <test file>`. Rounds
 * derive their seeds from it ({@link roundSeed}). A replay generates the same inputs; the random
 * values a run mints on the way (token values, session ids) are fresh each time, so inputs that
 * embed those are the same in shape, not in every byte.
 */
import { randomInt } from 'node:crypto';

export function fuzzSeed(label: string): number {
  const given = process.env.FUZZ_SEED;
  let seed: number;
  if (given !== undefined && given !== '') {
    seed = Number(given);
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0x7fffffff) throw new Error(`FUZZ_SEED must be an integer from 0 to ${0x7fffffff}, got ${JSON.stringify(given)}`);
  } else {
    seed = randomInt(0, 0x7fffffff);
  }
  console.log(`      ${label}: fuzz seed ${seed}${given ? ' (from FUZZ_SEED)' : ''}; replay with FUZZ_SEED=${seed}`);
  return seed;
}

/** The seed of round `round` of a run seeded with `seed` (fast-check takes 32-bit integers). */
export const roundSeed = (seed: number, round: number): number => (seed + round) | 0;
