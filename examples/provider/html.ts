/**
 * HTML rendering for the provider's pages. Every value that reaches a page goes through
 * `escapeHtml` (or the `html` tag, which escapes each interpolation); nothing a client or a
 * browser sends is ever written into a page unescaped.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an HTML element body or a quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** Markup that is already safe (built by `html`); never construct it from input. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(v: Interpolation): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(v);
}

/** Tagged template: interpolations are escaped unless they are `SafeHtml` (nested `html`). */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** A complete page. Styles and scripts come from /static (CSP: 'self' only, no inline script). */
export function page(title: string, body: SafeHtml, options: { scripts?: readonly string[] } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="/static/style.css">
${(options.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`)}
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`.value;
}

/** Hidden inputs for a form. */
export function hiddenInputs(fields: Readonly<Record<string, string | undefined>>): SafeHtml {
  return html`${Object.entries(fields)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}`;
}
