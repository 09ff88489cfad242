import type { IncomingMessage, ServerResponse } from 'http';
import type { ApplicationGateway, LeanExchange, LeanHandler, RequestInfo } from '@warden/http-router';
import { ShmErrorCode, type RequestHead, type RouterStream, type RouterStreamSink } from '@warden/shm-transport';
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
 * back, with flow control both ways. The per-request work is a map lookup, a least-busy pick, one request frame and
 * one Forward object (the stream's sink: no EventEmitter listeners on the stream, no closures).
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

  /**
   * The router's lean HTTP/1.1 path: the same semantics as handle() (503 without app or process, 502 when the app
   * aborts or sends a head HTTP forbids, 503 after `limits.timeout`, the stream aborted when the client goes away),
   * without IncomingMessage/ServerResponse: one LeanForward per request is both the stream's sink and the
   * exchange's handler.
   */
  handleLean(app: string, _target: string | undefined, ex: LeanExchange): void {
    this.counters.total++;
    const pool = this.apps.pool(app);
    if (!pool) {
      ex.fail(503);
      return;
    }
    pool.acquire((worker) => {
      if (!worker) ex.fail(503);
      else forwardLean(worker, pool.policy.timeoutMs, ex);
    });
  }
}

function forwardLean(worker: AppWorker, timeoutMs: number, ex: LeanExchange): void {
  const info = ex.info;
  const stream = worker.channel.request({
    method: ex.method,
    target: ex.target,
    httpVersion: ex.httpVersion,
    headers: ex.rawHeaders,
    remoteAddress: info.remoteAddress,
    remotePort: info.remotePort,
    localAddress: info.localAddress,
    localPort: info.localPort,
    tls: info.scheme === 'https',
    contentLength: ex.contentLength,
  });
  const f = new LeanForward(stream, ex);
  stream.setSink(f); // before anything can fire: a failed request() errors the stream on the next tick only
  if (timeoutMs > 0) f.timer = setTimeout(onLeanTimeout, timeoutMs, f);
  ex.attach(f); // request body (if any) flows from here; a client already gone aborts at once
}

/**
 * One lean request in flight: the app's response (as the stream's sink) goes to the exchange, the client's body
 * (as the exchange's handler) goes to the stream; back-pressure both ways.
 */
class LeanForward implements RouterStreamSink, LeanHandler {
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly stream: RouterStream,
    readonly ex: LeanExchange,
  ) {}

  // RouterStreamSink: app -> client.
  onResponse(status: number, headers: string[], reason?: string, http10?: boolean): void {
    if (this.done) return;
    if (!this.ex.respond(status, headers, reason, http10)) {
      // A head HTTP forbids: this request fails with 502, the app's other requests go on.
      this.finish();
      this.stream.abort();
      this.ex.fail(502);
    }
  }

  onData(chunk: Buffer, last: boolean): void {
    if (this.done) return;
    if (last) {
      this.finish();
      this.ex.write(chunk, true);
      return;
    }
    if (!this.ex.write(chunk, false)) this.stream.pause();
  }

  onEnd(): void {
    if (this.done) return;
    this.finish();
    this.ex.end();
  }

  onDrain(): void {
    this.ex.resumeBody();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.finish();
    if (isReset(err)) this.ex.reset();
    else this.ex.fail(502);
  }

  // LeanHandler: client -> app.
  onBody(chunk: Buffer): boolean {
    return this.stream.writeBody(chunk);
  }

  onBodyEnd(): void {
    this.stream.endBody();
  }

  onWritable(): void {
    if (!this.done) this.stream.resume();
  }

  onAbort(): void {
    if (this.done) return;
    this.finish();
    this.stream.abort();
  }

  finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function onLeanTimeout(f: LeanForward): void {
  if (f.done) return;
  f.finish();
  f.stream.abort();
  f.ex.fail(503);
}

/** Where a request's forwarding state hangs on the request and response objects (no closures per request). */
const kForward = Symbol('warden.forward');
type WithForward<T> = T & { [kForward]?: Forward };

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
  const f = new Forward(stream, req, res);
  stream.setSink(f); // before anything can fire: a failed request() errors the stream on the next tick only
  if (timeoutMs > 0) f.timer = setTimeout(onTimeout, timeoutMs, f);
  // Request body: client → app, pausing the client while the channel is full.
  if (head.contentLength !== 0) {
    (req as WithForward<IncomingMessage>)[kForward] = f;
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
  } else {
    stream.endBody();
  }
  (res as WithForward<ServerResponse>)[kForward] = f;
  res.on('close', onResponseClose);
}

/**
 * One request in flight: receives the app's response from the stream (as its sink) and writes it to the client,
 * pausing the stream while the client is slow. `done` once the response ended, failed or the client went away.
 */
class Forward implements RouterStreamSink {
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly stream: RouterStream,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  onResponse(status: number, headers: string[], reason?: string): void {
    if (this.done) return;
    try {
      // (node:http writes every status line as HTTP/1.1: an app's HTTP/1.0 line is not kept on this path.)
      if (reason === undefined) this.res.writeHead(status, headers);
      else this.res.writeHead(status, reason, headers);
    } catch {
      // A head HTTP forbids (bad field name or value, status): this request fails with 502, the app's other
      // requests go on (an exception here would otherwise close the whole channel).
      this.finish();
      this.stream.abort();
      fail(this.res, 502);
    }
  }

  onData(chunk: Buffer, last: boolean): void {
    if (this.done) return;
    if (last) {
      // The whole rest of the body is here: head and body leave in one write, no separate end.
      this.finish();
      this.res.end(chunk);
      return;
    }
    if (!this.res.write(chunk)) {
      this.stream.pause();
      this.res.once('drain', () => this.stream.resume());
    }
  }

  onEnd(): void {
    if (this.done) return;
    this.finish();
    this.res.end();
  }

  onDrain(): void {
    this.req.resume();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.finish();
    if (!this.res.headersSent && !isReset(err)) fail(this.res, 502);
    else this.res.destroy();
  }

  finish(): void {
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function onTimeout(f: Forward): void {
  if (f.done) return;
  f.done = true;
  f.stream.abort();
  if (!f.res.headersSent) fail(f.res, 503);
  else f.res.destroy();
}

function onRequestData(this: WithForward<IncomingMessage>, chunk: Buffer): void {
  if (!this[kForward]!.stream.writeBody(chunk)) this.pause();
}

function onRequestEnd(this: WithForward<IncomingMessage>): void {
  this[kForward]!.stream.endBody();
}

function onResponseClose(this: WithForward<ServerResponse>): void {
  const f = this[kForward]!;
  if (f.done) return;
  f.finish();
  f.stream.abort();
}

/** The app reset the stream (node's `res.destroy()`): the client connection is dropped, no error page. */
function isReset(err: Error): boolean {
  return (err as { code?: string }).code === ShmErrorCode.STREAM_RESET;
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
