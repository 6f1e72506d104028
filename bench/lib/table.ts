/** Plain-text (Markdown-compatible) tables for benchmark output. */

export type Cell = string | number | undefined;

/** Formats a number with thousands separators, `digits` decimals; '—' for missing values. */
export function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * A Markdown table with padded columns. Columns listed in `rightAlign` (by index) are
 * right-aligned, which suits numbers.
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[], rightAlign: readonly number[] = []): string {
  const text = (c: Cell) => (c === undefined ? '' : String(c));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i]).length), 3));
  const pad = (s: string, i: number) => (rightAlign.includes(i) ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (cells: readonly string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (rightAlign.includes(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...rows.map((r) => line(headers.map((_, i) => text(r[i]))))].join('\n');
}
