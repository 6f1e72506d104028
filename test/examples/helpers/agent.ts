/**
 * A minimal browser for tests: a cookie jar over fetch that follows redirects by hand (so a
 * test can stop at the relying party's callback) and reads the HTML forms of the provider's
 * pages. Cookies are kept per host and sent back to that host, as a browser would for
 * `Path=/` cookies; `SameSite` is the test's business (it decides which requests carry them).
 */

export interface Form {
  readonly action: string;
  readonly method: string;
  readonly fields: Record<string, string>;
  readonly buttons: ReadonlyArray<{ name: string; value: string }>;
  readonly inputs: readonly string[];
}

export interface SetCookie {
  readonly name: string;
  readonly value: string;
  readonly attributes: Readonly<Record<string, string | true>>;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#96;': '`' };
const unescape = (s: string) => s.replace(/&(?:amp|lt|gt|quot|#39|#96);/g, (e) => ENTITIES[e]!);
const attr = (tag: string, name: string) => {
  const m = new RegExp(`\\s${name}="([^"]*)"`).exec(tag);
  return m ? unescape(m[1]!) : undefined;
};

/** The forms of a page (the provider's own, simple markup). */
export function formsOf(html: string): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const open = m[1]!;
    const body = m[2]!;
    const fields: Record<string, string> = {};
    const inputs: string[] = [];
    for (const i of body.matchAll(/<input\b[^>]*>/g)) {
      const name = attr(i[0], 'name');
      if (name === undefined) continue;
      inputs.push(name);
      if (attr(i[0], 'type') === 'hidden') fields[name] = attr(i[0], 'value') ?? '';
    }
    const buttons = [...body.matchAll(/<button\b[^>]*>/g)]
      .map((b) => ({ name: attr(b[0], 'name'), value: attr(b[0], 'value') }))
      .filter((b): b is { name: string; value: string } => b.name !== undefined);
    forms.push({ action: attr(` ${open}`, 'action') ?? '', method: (attr(` ${open}`, 'method') ?? 'get').toLowerCase(), fields, buttons, inputs });
  }
  return forms;
}

export function parseSetCookie(header: string): SetCookie {
  const [pair, ...rest] = header.split(';');
  const eq = pair!.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const a of rest) {
    const i = a.indexOf('=');
    const k = (i < 0 ? a : a.slice(0, i)).trim().toLowerCase();
    if (k) attributes[k] = i < 0 ? true : a.slice(i + 1).trim();
  }
  return { name: pair!.slice(0, eq).trim(), value: pair!.slice(eq + 1).trim(), attributes };
}

export interface Hop {
  readonly url: URL;
  /** The final response; undefined when the walk stopped at `stopAt` without fetching. */
  readonly response?: Response;
}

export class Agent {
  readonly #jar = new Map<string, Map<string, string>>();
  /** Every Set-Cookie this agent received, in order. */
  readonly setCookies: SetCookie[] = [];

  cookie(host: string, name: string): string | undefined {
    return this.#jar.get(host)?.get(name);
  }

  setCookie(host: string, name: string, value: string): void {
    let m = this.#jar.get(host);
    if (!m) this.#jar.set(host, (m = new Map()));
    m.set(name, value);
  }

  clearCookies(host: string): void {
    this.#jar.delete(host);
  }

  /** One request, no redirect following; cookies sent and stored. */
  async request(url: string | URL, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string>; cookies?: boolean } = {}): Promise<Response> {
    const u = new URL(url);
    const headers = new Headers(init.headers);
    const jar = this.#jar.get(u.host);
    if (init.cookies !== false && jar && jar.size > 0) headers.set('cookie', [...jar].map(([k, v]) => `${k}=${v}`).join('; '));
    let body: string | undefined;
    if (init.form) {
      headers.set('content-type', 'application/x-www-form-urlencoded');
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(u, { method: init.method ?? (body ? 'POST' : 'GET'), headers, redirect: 'manual', ...(body !== undefined && { body }) });
    for (const raw of res.headers.getSetCookie()) {
      const c = parseSetCookie(raw);
      this.setCookies.push(c);
      const expires = typeof c.attributes.expires === 'string' ? Date.parse(c.attributes.expires) : NaN;
      if (c.attributes['max-age'] === '0' || (!Number.isNaN(expires) && expires < Date.now())) this.#jar.get(u.host)?.delete(c.name);
      else this.setCookie(u.host, c.name, c.value);
    }
    return res;
  }

  /**
   * Requests `url` and follows redirects (GET, as browsers do after 303) until a response is
   * not a redirect, or the next URL satisfies `stopAt` (returned without fetching it).
   */
  async walk(url: string | URL, stopAt: (u: URL) => boolean = () => false, init: Parameters<Agent['request']>[1] = {}): Promise<Hop> {
    let current = new URL(url);
    if (stopAt(current)) return { url: current };
    let res = await this.request(current, init);
    for (let i = 0; i < 20; i++) {
      const loc = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (!loc) return { url: current, response: res };
      await res.body?.cancel();
      current = new URL(loc, current);
      if (stopAt(current)) return { url: current };
      res = await this.request(current);
    }
    throw new Error('too many redirects');
  }

  /** Submits a form of the page at `base` with extra field values (and a button). */
  async submit(base: URL, form: Form, values: Record<string, string> = {}, stopAt?: (u: URL) => boolean): Promise<Hop> {
    const action = new URL(form.action || base.href, base);
    return this.walk(action, stopAt, { method: form.method.toUpperCase(), form: { ...form.fields, ...values } });
  }
}
