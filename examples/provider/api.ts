/**
 * The JSON APIs — token, introspection, revocation, userinfo — served on node:http directly.
 *
 * They set no cookie, read no browser session and render no page, so nothing of the Express
 * stack in front of the pages is theirs to pay for — and Express's own per-request setup is not
 * small: swapping the prototypes of req and res (which also slows node:http's own work on them
 * afterwards) and walking the router cost about 50 µs of CPU per request here, half of an
 * introspection. The provider's request listener (app.ts) hands these paths to `serveApi` before
 * Express sees them; the Express app routes them here as well, so a request is answered the same
 * way whichever door it came through.
 *
 * What Express gave these endpoints is kept: the same urlencoded body parser with the same
 * limits (body-parser is plain node:http middleware), HEAD answered like GET, OPTIONS answered
 * with `Allow`, JSON written as `res.json` writes it, errors mapped as on every other route.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProviderLogger } from './context.js';
import { OAuthError, sendOAuthError, toOAuthError } from './oauth-errors.js';

/** A request to a JSON API: node's request with the parsed urlencoded body (body-parser's `req.body`). */
export type ApiRequest = IncomingMessage & { body?: unknown };

/** One endpoint for one method: writes its response or throws (an OAuthError, or anything for `toOAuthError`). */
export type Endpoint = (req: ApiRequest, res: ServerResponse) => Promise<void>;

/** Endpoints by path, then by method (`GET` also answers `HEAD`). */
export type Endpoints = Readonly<Record<string, Readonly<Partial<Record<'GET' | 'POST', Endpoint>>>>>;

/** Connect-style middleware on node's request and response (body-parser's parsers are). */
export type NodeMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** Headers of every JSON API response: no MIME sniffing, and nothing in it may load or be framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'";

interface Route {
  readonly methods: ReadonlyMap<string, Endpoint>;
  /** RFC 9110 §10.2.1: the methods the path answers, for OPTIONS and 405. */
  readonly allow: string;
}

/**
 * `serveApi(path, req, res)`: answers a request to one of the API paths and returns true, or
 * returns false and touches nothing. `path` is the request path without the query.
 */
export function apiResponder(endpoints: Endpoints, form: NodeMiddleware, log: ProviderLogger) {
  const routes = new Map<string, Route>();
  for (const [path, byMethod] of Object.entries(endpoints)) {
    const methods = new Map(Object.entries(byMethod) as [string, Endpoint][]);
    if (methods.has('GET')) methods.set('HEAD', methods.get('GET')!);
    routes.set(path, { methods, allow: [...methods.keys()].sort().join(', ') });
  }

  function fail(err: unknown, req: IncomingMessage, res: ServerResponse, path: string): void {
    if (res.headersSent) {
      // Half a response is out: nothing can be said any more, so the connection goes.
      log.error(`error after the response started on ${req.method} ${path}: ${(err as Error)?.name ?? typeof err}`);
      res.destroy();
      return;
    }
    sendOAuthError(res, toOAuthError(err, `${req.method} ${path}`, log));
  }

  return {
    serveApi(path: string, req: ApiRequest, res: ServerResponse): boolean {
      const route = routes.get(path);
      if (!route) return false;
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Security-Policy', API_CSP);
      const endpoint = route.methods.get(req.method ?? '');
      if (!endpoint) {
        res.setHeader('Allow', route.allow);
        if (req.method === 'OPTIONS') {
          // As Express's router answers OPTIONS: the list in the header and as a text body.
          res.statusCode = 200;
          res.setHeader('Content-Length', Buffer.byteLength(route.allow));
          res.setHeader('Content-Type', 'text/plain');
          res.end(route.allow);
        } else {
          sendOAuthError(res, new OAuthError('invalid_request', 'unsupported method', 405));
        }
        return true;
      }
      form(req, res, (err) => {
        if (err) return fail(err, req, res, path);
        let answered: Promise<void>;
        try {
          answered = endpoint(req, res);
        } catch (e) {
          return fail(e, req, res, path); // an endpoint that throws before its first await
        }
        answered.catch((e: unknown) => fail(e, req, res, path));
      });
      return true;
    },
  };
}
