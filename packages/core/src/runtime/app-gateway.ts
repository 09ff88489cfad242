import type { IncomingMessage, ServerResponse } from 'http';
import { upgradeOf, type ApplicationGateway, type LeanExchange, type LeanHandler, type RequestInfo } from '@warden/http-router';
import { ShmErrorCode, type RequestHead, type RouterStream, type RouterStreamSink } from '@warden/shm-transport';
import type { AppPool } from './app-pool';
import type { AppWorker, InFlight } from './app-worker';
import { forwardUpgrade } from './upgrade-tunnel';

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
  const head: RequestHead = {
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
  };
  const f = new LeanForward(head, ex);
  f.send(worker);
  if (timeoutMs > 0) f.timer = setTimeout(onLeanTimeout, timeoutMs, f);
  ex.attach(f); // request body (if any) flows from here; a client already gone aborts at once
}

/** Methods whose request may be sent again to another process when the first one never read it (RFC 9110 9.2.2). */
function idempotent(method: string): boolean {
  return method !== 'POST' && method !== 'PATCH' && method !== 'CONNECT' && method !== 'LOCK';
}

/**
 * What both request paths share: the head, the stream on the current worker, and the worker's in-flight list
 * membership (counts for least-busy dispatch and idle time; lets the supervisor move a request the app never read).
 */
abstract class Dispatch implements InFlight, RouterStreamSink {
  prev: InFlight | null = null;
  next: InFlight | null = null;
  sentAt = 0;
  done = false;
  responded = false;
  timer: NodeJS.Timeout | undefined = undefined;
  worker!: AppWorker;
  stream!: RouterStream;

  constructor(readonly head: RequestHead) {}

  abstract onResponse(status: number, headers: string[], reason?: string, http10?: boolean): void;
  abstract onData(chunk: Buffer, last: boolean): void;
  abstract onEnd(): void;
  abstract onDrain(): void;
  abstract onError(err: Error): void;

  /** Sends the request head (and END when there is no body) on `worker`'s channel. */
  send(worker: AppWorker): void {
    this.worker = worker;
    this.sentAt = worker.channel.writePosition;
    worker.attach(this);
    this.stream = worker.channel.request(this.head);
    this.stream.setSink(this); // before anything can fire: a failed request() errors the stream on the next tick only
  }

  movable(): boolean {
    return !this.done && !this.responded && this.head.contentLength === 0 && idempotent(this.head.method);
  }

  moveTo(to: AppWorker): void {
    if (this.done) return;
    this.release();
    this.send(to);
  }

  release(): void {
    this.worker.detach(this);
    this.stream.setSink(IGNORE);
    this.stream.abort();
  }

  giveUp(): void {
    if (this.done) return;
    this.finish();
    this.answer(503);
  }

  /** Answers `status` with the error page if nothing was sent yet, else drops the connection. */
  abstract answer(status: number): void;

  /** Ends this request's life on its worker (idempotent). */
  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.worker.detach(this);
  }
}

/** The sink of an abandoned stream (moved to another process): whatever still comes is dropped. */
const IGNORE: RouterStreamSink = {
  onResponse() {},
  onData() {},
  onEnd() {},
  onDrain() {},
  onError() {},
};

/**
 * One lean request in flight: the app's response (as the stream's sink) goes to the exchange, the client's body
 * (as the exchange's handler) goes to the stream; back-pressure both ways.
 */
class LeanForward extends Dispatch implements LeanHandler {
  constructor(
    head: RequestHead,
    readonly ex: LeanExchange,
  ) {
    super(head);
  }

  // RouterStreamSink: app -> client.
  onResponse(status: number, headers: string[], reason?: string, http10?: boolean): void {
    if (this.done) return;
    this.responded = true;
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

  answer(status: number): void {
    this.ex.fail(status);
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
  const up = upgradeOf(req);
  if (up !== null && worker.channel.takesUpgrades) {
    // The client's bytes after the head are the stream's request side (PROTOCOL.md "Upgrades").
    head.upgrade = true;
    head.contentLength = -1;
    forwardUpgrade(worker, timeoutMs, head, res, up, fail);
    return;
  }
  const f = new Forward(head, req, res);
  f.send(worker);
  if (timeoutMs > 0) f.timer = setTimeout(onTimeout, timeoutMs, f);
  // Request body: client → app, pausing the client while the channel is full.
  if (head.contentLength !== 0) {
    (req as WithForward<IncomingMessage>)[kForward] = f;
    req.on('data', onRequestData);
    req.on('end', onRequestEnd);
  } else {
    f.stream.endBody();
  }
  (res as WithForward<ServerResponse>)[kForward] = f;
  res.on('close', onResponseClose);
}

/**
 * One request in flight: receives the app's response from the stream (as its sink) and writes it to the client,
 * pausing the stream while the client is slow. `done` once the response ended, failed or the client went away.
 */
class Forward extends Dispatch {
  constructor(
    head: RequestHead,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {
    super(head);
  }

  onResponse(status: number, headers: string[], reason?: string): void {
    if (this.done) return;
    this.responded = true;
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
    if (isReset(err)) this.res.destroy();
    else this.answer(502);
  }

  answer(status: number): void {
    if (!this.res.headersSent) fail(this.res, status);
    else this.res.destroy();
  }
}

function onTimeout(f: Forward): void {
  if (f.done) return;
  f.finish();
  f.stream.abort();
  f.answer(503);
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
