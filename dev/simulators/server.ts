import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A tiny HTTP server on 127.0.0.1 (ephemeral port) that each platform simulator builds on: it
 * routes requests to the simulator's handler, logs them for assertions, and injects faults on
 * demand (429 bursts, 500s, timeouts, truncated and malformed bodies) into the next matching calls.
 */

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export type Fault =
  | { kind: '429'; retryAfterSeconds?: number }
  | { kind: '500' }
  /** Accepts the request and never answers (the client's timeout must fire). */
  | { kind: 'timeout' }
  /** Sends the first half of the real body (a connection cut mid-reply). */
  | { kind: 'truncate' }
  /** Sends a body that does not parse (`{"data": [` / a CSV with an unclosed quote). */
  | { kind: 'malformed' };

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Header names only for auth headers, never their values. */
  headers: Record<string, string>;
  body: string;
  at: number;
  fault?: Fault['kind'];
}

export type SimHandler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

const SECRET_HEADERS = new Set(['authorization', 'x-eflow-api-key']);

export class SimServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly faults: { fault: Fault; match: (path: string) => boolean }[] = [];
  readonly requests: LoggedRequest[] = [];
  baseUrl = '';

  constructor(
    private readonly handler: SimHandler,
    private readonly options: { malformedBody?: string } = {},
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    return this.baseUrl;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }

  /** The next calls whose path matches get these faults, one each, in order. */
  injectFaults(faults: Fault[], match: (path: string) => boolean = () => true): void {
    for (const fault of faults) this.faults.push({ fault, match });
  }

  /** The fault clears: drops every fault not yet served. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  pendingFaults(): number {
    return this.faults.length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://sim');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = SECRET_HEADERS.has(k) ? '[present]' : String(v);
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = k === 'key' || k === 'api_key' ? '[present]' : v;
    const idx = this.faults.findIndex((f) => f.match(url.pathname));
    const fault = idx >= 0 ? this.faults.splice(idx, 1)[0].fault : undefined;
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query,
      headers,
      body,
      at: Date.now(),
      fault: fault?.kind,
    });

    if (fault?.kind === '429') {
      res.writeHead(429, {
        'content-type': 'application/json',
        'retry-after': String(fault.retryAfterSeconds ?? 0),
        'x-ratelimit-remaining': '0',
      });
      res.end(JSON.stringify({ error: 'rate limit exceeded' }));
      return;
    }
    if (fault?.kind === '500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal server error' }));
      return;
    }
    if (fault?.kind === 'timeout') return; // never answer; destroyed on stop()

    let out: SimResponse;
    try {
      out = await this.handler({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
      });
    } catch (e) {
      out = {
        status: 500,
        headers: { 'content-type': 'text/plain' },
        body: `simulator error: ${(e as Error).message}`,
      };
    }
    if (fault?.kind === 'truncate') {
      // Advertise the full length, send half, then cut the connection: what a dropped reply looks like.
      res.writeHead(out.status, { ...out.headers, 'content-length': String(Buffer.byteLength(out.body)) });
      res.write(out.body.slice(0, Math.floor(out.body.length / 2)));
      res.destroy();
      return;
    }
    if (fault?.kind === 'malformed') {
      res.writeHead(out.status, out.headers);
      res.end(this.options.malformedBody ?? '{"data": [');
      return;
    }
    res.writeHead(out.status, out.headers);
    res.end(out.body);
  }
}

/** What every platform simulator (`dev/simulators/<kind>.ts`) exposes. */
export interface PlatformSimulator {
  readonly kind: string;
  readonly server: SimServer;
  /** Starts on 127.0.0.1:<ephemeral>; resolves to the base URL to put in the platform's config. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

export interface SimulatorOptions {
  /** The platform key in the scenario whose data this simulator serves. */
  platform: string;
  /** The credential the simulator accepts (Partnerize: `applicationKey:userApiKey`). */
  secret: string;
  /** The simulator's "now" (epoch ms): records after it are invisible, statuses are as of it. */
  now?: () => number;
  /** The instance zone for platforms that speak local time (HitPath, CAKE); default UTC. */
  timezone?: string;
}
