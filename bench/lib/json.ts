/** JSON result files of the benchmarks. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `data` as indented JSON, creating the directory when needed. */
export function writeJson(path: string, data: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

/** Versions of the runtime, for result files. */
export function runtimeInfo(): { node: string; v8: string; platform: string; arch: string } {
  return { node: process.version, v8: process.versions.v8, platform: process.platform, arch: process.arch };
}
