import { STATUS_CODES, validateHeaderName, validateHeaderValue, type IncomingMessage, type ServerResponse } from 'http';
import type { Socket } from 'net';
import { informationalFits, sendError } from './error-page';
import { flushLater, type HeadHolder } from './head-flush';
import type { LeanExchange, LeanHandler, RequestInfo } from './ports';

/** Where the exchange's handler hangs on the request and response objects (no closures per request). */
const kHandler = Symbol('warden.handler');
type WithHandler<T> = T & { [kHandler]?: LeanHandler };

/**
 * A request node:http parsed, seen through the {@link LeanExchange} contract, so that a gateway serves both HTTP paths
 * with one forwarder. Differences from the lean path: `contentLength` is -1 for a chunked request body, and an app's
 * HTTP/1.0 status line is sent as HTTP/1.1 (node:http writes every status line itself).
 */
export class NodeExchange implements LeanExchange, HeadHolder {
  /** 1xx responses the app sent for this request (see informationalFits). */
  private infos = 0;
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;
  readonly rawHeaders: string[];
  readonly contentLength: number;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly info: RequestInfo,
  ) {
    this.method = req.method ?? 'GET';
    this.target = req.url ?? '/';
    this.httpVersion = req.httpVersion;
    this.rawHeaders = req.rawHeaders;
    const cl = req.headers['content-length'];
    this.contentLength = cl !== undefined ? Number(cl) : req.headers['transfer-encoding'] ? -1 : 0;
  }

  attach(handler: LeanHandler): void {
    const { req, res } = this;
    // Request body: client -> handler, pausing the client while the handler cannot take more.
    if (this.contentLength !== 0) {
      (req as WithHandler<IncomingMessage>)[kHandler] = handler;
      req.on('data', onRequestData);
      req.on('end', onRequestEnd);
    } else {
      handler.onBodyEnd();
    }
    (res as WithHandler<ServerResponse>)[kHandler] = handler;
    if (res.destroyed)
      handler.onAbort(); // the client went away while the request waited for a process
    else res.on('close', onResponseClose);
  }

  resumeBody(): void {
    this.req.resume();
  }

  respond(status: number, headers: string[], reason?: string): boolean {
    // A final head is 200-999 (a 101 is a tunnel's, TunnelExchange): see FastExchange.respond.
    if (!(status >= 200 && status <= 999)) return false;
    try {
      if (reason === undefined) this.res.writeHead(status, headers);
      else this.res.writeHead(status, reason, headers);
      flushLater(this);
      return true;
    } catch {
      return false; // a head HTTP forbids (bad field name or value, status)
    }
  }

  flushPendingHead(): void {
    // headersSent is true from writeHead on, though node:http writes the head with the first body bytes; a flush
    // after the head went out writes nothing.
    const res = this.res;
    if (!res.writableEnded && !res.destroyed) res.flushHeaders();
  }

  write(chunk: Buffer, last: boolean): boolean {
    if (last) {
      // The whole rest of the body is here: head and body leave in one write, no separate end.
      this.res.end(chunk);
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.res.once('drain', onResponseDrain);
    return false;
  }

  writeView(view: Buffer, last: boolean): boolean {
    return this.write(Buffer.from(view), last); // node:http keeps what it writes until the socket took it
  }

  end(): void {
    this.res.end();
  }

  fail(status: number): void {
    if (this.res.destroyed) this.res.destroy();
    else sendError(this.res, status);
  }

  reset(): void {
    this.res.destroy();
  }

  get socket(): Socket {
    return this.req.socket;
  }

  trailers(headers: string[]): void {
    const pairs: [string, string][] = [];
    for (let i = 0; i + 1 < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]]);
    try {
      this.res.addTrailers(pairs);
    } catch {
      // A field HTTP forbids: the trailers are dropped, the response itself is fine.
    }
  }

  informational(status: number, headers: string[]): void {
    const res = this.res;
    if (res.headersSent || this.httpVersion !== '1.1' || status < 100 || status > 199 || status === 101) return;
    if (!informationalFits(++this.infos, res.socket)) return;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] || 'unknown'}\r\n`;
    try {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        validateHeaderName(headers[i]);
        validateHeaderValue(headers[i], headers[i + 1]);
        head += `${headers[i]}: ${headers[i + 1]}\r\n`;
      }
    } catch {
      return;
    }
    // What node's own writeEarlyHints does: the 1xx head straight onto the connection, before the final head.
    (res as unknown as { _writeRaw(data: string, encoding: string): boolean })._writeRaw(head + '\r\n', 'latin1');
  }
}

function onRequestData(this: WithHandler<IncomingMessage>, chunk: Buffer): void {
  if (!this[kHandler]!.onBody(chunk)) this.pause();
}

function onRequestEnd(this: WithHandler<IncomingMessage>): void {
  this[kHandler]!.onBodyEnd();
}

function onResponseDrain(this: WithHandler<ServerResponse>): void {
  this[kHandler]!.onWritable();
}

function onResponseClose(this: WithHandler<ServerResponse>): void {
  if (!this.writableEnded) this[kHandler]!.onAbort();
}
