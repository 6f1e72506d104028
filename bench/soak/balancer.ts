/**
 * A small HTTP load balancer for the soak: one issuer origin in front of several provider
 * processes, as a deployment behind one issuer would run. Requests go round-robin, one by one
 * (not per connection), so consecutive requests of one browser — and the parallel refreshes of
 * one token — land on different processes. It also counts every exchange: status, latency,
 * backend, and upstream failures (a request that may have reached a backend but whose answer was
 * lost), and answers 504 itself when a backend does not answer within the bound.
 */
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface BalancerStats {
  requests: number;
  byBackend: number[];
  byStatus: Map<number, number>;
  /** `METHOD /path` (ids in paths folded) → count. */
  byRoute: Map<string, number>;
  /** Upstream connection errors and timeouts: the answer (maybe a minted token) never reached the client. */
  lost: number;
  /** Answers slower than the bound (answered 504 by the balancer). */
  timeouts: number;
  maxLatencyMs: number;
  latencies: number[];
}

export class Balancer {
  readonly #server: Server;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 64 });
  readonly #backends: readonly URL[];
  readonly #timeoutMs: number;
  #next = 0;
  #origin = '';
  readonly stats: BalancerStats;

  constructor(backends: readonly string[], timeoutMs: number) {
    this.#backends = backends.map((b) => new URL(b));
    this.#timeoutMs = timeoutMs;
    this.stats = { requests: 0, byBackend: backends.map(() => 0), byStatus: new Map(), byRoute: new Map(), lost: 0, timeouts: 0, maxLatencyMs: 0, latencies: [] };
    this.#server = createServer((req, res) => this.#forward(req, res));
  }

  /** Listens on `port` (0: any free one) on loopback; returns the origin. */
  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, '127.0.0.1', resolve));
    this.#origin = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.#origin;
  }

  get origin(): string {
    return this.#origin;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((r) => this.#server.close(r));
    this.#agent.destroy();
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const i = this.#next++ % this.#backends.length;
    const target = this.#backends[i]!;
    const start = performance.now();
    const s = this.stats;
    s.requests++;
    s.byBackend[i]!++;
    const route = `${req.method} ${(req.url ?? '').split('?')[0]!.replace(/\/interaction\/[^/]+/, '/interaction/:uid')}`;
    s.byRoute.set(route, (s.byRoute.get(route) ?? 0) + 1);
    let done = false;
    const finish = (status: number) => {
      if (done) return;
      done = true;
      const ms = performance.now() - start;
      s.byStatus.set(status, (s.byStatus.get(status) ?? 0) + 1);
      s.latencies.push(ms);
      if (ms > s.maxLatencyMs) s.maxLatencyMs = ms;
    };
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent: this.#agent },
      (r) => {
        finish(r.statusCode ?? 0);
        res.writeHead(r.statusCode ?? 502, r.rawHeaders);
        r.pipe(res);
      },
    );
    up.setTimeout(this.#timeoutMs, () => {
      s.timeouts++;
      up.destroy(new Error('upstream timeout'));
    });
    up.on('error', () => {
      s.lost++;
      finish(res.headersSent ? res.statusCode : 504);
      if (!res.headersSent) res.writeHead(504, { 'content-type': 'text/plain' }).end('upstream did not answer');
      else res.destroy();
    });
    req.pipe(up);
  }
}
