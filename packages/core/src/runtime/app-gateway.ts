import type { IncomingMessage, ServerResponse } from 'http';
import type { ApplicationGateway, RequestInfo } from '@warden/http-router';
import type { RequestHead, RouterStream } from '@warden/shm-transport';
import type { AppPool } from './app-pool';
import type { AppWorker } from './app-worker';

/** Looks up the pool of an app by name (the supervisor). */
export interface PoolDirectory {
  pool(app: string): AppPool | undefined;
}

/** Counters for `/status`. */
export interface GatewayCounters {
  total: number;
}

/**
 * Hands requests the router passed to an application over that app's shared-memory channel and streams the response
 * back, with flow control both ways. The per-request work is a map lookup, a least-busy pick and one request frame.
 */
export class AppGateway implements ApplicationGateway {
  readonly counters: GatewayCounters = { total: 0 };

  constructor(private readonly apps: PoolDirectory) {}

  handle(app: string, _target: string | undefined, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
    this.counters.total++;
    const pool = this.apps.pool(app);
    if (!pool) {
      fail(res, 503);
      return;
    }
    pool.acquire((worker) => {
      if (!worker) fail(res, 503);
      else forward(worker, pool.policy.timeoutMs, req, res, info);
    });
  }
}

function forward(worker: AppWorker, timeoutMs: number, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
  const cl = req.headers['content-length'];
  const head: RequestHead = {
    method: req.method ?? 'GET',
    target: req.url ?? '/',
    httpVersion: req.httpVersion,
    headers: req.rawHeaders,
    remoteAddress: info.remoteAddress,
    remotePort: info.remotePort,
    localAddress: info.localAddress,
    localPort: info.localPort,
    tls: info.scheme === 'https',
    contentLength: cl !== undefined ? Number(cl) : req.headers['transfer-encoding'] ? -1 : 0,
  };
  const stream = worker.channel.request(head);
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      if (done) return;
      done = true;
      stream.abort();
      if (!res.headersSent) fail(res, 503);
      else res.destroy();
    }, timeoutMs);
  }
  const finish = () => {
    done = true;
    if (timer) clearTimeout(timer);
  };

  // Request body: client → app, pausing the client while the channel is full.
  if (head.contentLength !== 0) {
    req.on('data', (chunk: Buffer) => {
      if (!stream.writeBody(chunk)) req.pause();
    });
    stream.on('drain', () => req.resume());
    req.on('end', () => stream.endBody());
  } else {
    stream.endBody();
  }

  // Response: app → client, pausing the channel stream while the client is slow.
  stream.on('response', (status: number, headers: string[]) => {
    if (done) return;
    res.writeHead(status, headers);
  });
  stream.on('data', (chunk: Buffer) => {
    if (done) return;
    if (!res.write(chunk)) {
      stream.pause();
      res.once('drain', () => stream.resume());
    }
  });
  stream.on('end', () => {
    if (done) return;
    finish();
    res.end();
  });
  stream.on('error', () => {
    if (done) return;
    finish();
    if (!res.headersSent) fail(res, 502);
    else res.destroy();
  });
  res.on('close', () => {
    if (done) return;
    finish();
    stream.abort();
  });
}

const REASONS: Record<number, string> = { 502: 'Bad Gateway', 503: 'Service Unavailable' };

function fail(res: ServerResponse, status: number): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `<!DOCTYPE html><title>Error ${status}</title><p>Error ${status}.\r\n`;
  res.writeHead(status, REASONS[status] ?? '', { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export type { RouterStream };
