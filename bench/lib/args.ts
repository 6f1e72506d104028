/** Minimal command-line flags for the benchmark scripts: `--flag` and `--name value` / `--name=value`. */

export function hasFlag(argv: readonly string[], name: string): boolean {
  return argv.includes(`--${name}`);
}

/** The value of `--name value` or `--name=value`, or undefined. */
export function flagValue(argv: readonly string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith(prefix)) return a.slice(prefix.length);
    if (a === `--${name}` && i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) return argv[i + 1];
  }
  return undefined;
}

/** A positive integer flag, or `fallback`; anything else is an error. */
export function intFlag(argv: readonly string[], name: string, fallback: number): number {
  const v = flagValue(argv, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}
