/**
 * CPU profiles of a chosen stretch of a run (e.g. only the timed loop of one op, without its
 * setup), through the inspector protocol of this process. Writes a `.cpuprofile` that
 * `bench/lib/cpuprofile-summary.ts` and Chrome DevTools read.
 */
import { Session } from 'node:inspector/promises';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Runs `fn` under the sampling profiler and writes `<dir>/<name>.cpuprofile`. */
export async function profiled<T>(dir: string, name: string, fn: () => Promise<T>, intervalUs = 100): Promise<T> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
    await session.post('Profiler.start');
    const result = await fn();
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name.replace(/[^\w.-]+/g, '_')}.cpuprofile`), JSON.stringify(profile));
    return result;
  } finally {
    session.disconnect();
  }
}
