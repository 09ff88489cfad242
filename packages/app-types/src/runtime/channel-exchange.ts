import * as http from 'http';
import { ChannelSocket } from './channel-socket';
import type { ChannelRequest } from './channel-types';
import { isOutHeaders, replaceStoreHeader, resumeScheduled, takeNeedDrain, type IncomingInternals, type OutgoingInternals } from './node-internals';
import { runtimeLogger } from './runtime-logger';

// Design (see README "Node runtime"): the request and response are the real `http.IncomingMessage` and
// `http.ServerResponse`, built without any HTTP text.
// - IncomingMessage: filled from the channel's request head (method, url, rawHeaders through `_addHeaderLines`, the
//   same call Node's parser makes); body chunks are pushed as they arrive and `_read` resumes the channel stream.
// - ServerResponse: keeps all of Node's header API (setHeader, writeHead, getHeader, ...). Two internal methods are
//   replaced per instance: `_storeHeader` (where Node serialises the head to text) collects status and flat header
//   list instead, and `_send` hands them to `respond()` at the moment Node would put the head on the wire. The body
//   is never chunk-encoded (the router frames it); it goes through a per-request ChannelSocket, so Node's own write
//   path gives cork/uncork batching, write callbacks, 'finish' and back-pressure.
// The overrides are own properties, not a subclass: express and others replace the prototype of req/res
// (Object.setPrototypeOf(res, app.response)), which would drop subclass methods.

/**
 * Hop-by-hop headers that describe the app-side connection; the router frames the client connection itself.
 * `Connection` is passed on: the router honours `close` (it closes the client connection after the response, as
 * node:http does) and adds `keep-alive` itself when the app set none.
 */
const HOP_BY_HOP = new Set(['keep-alive', 'transfer-encoding']);

let dateCache = '';
let dateSecond = -1;
function utcDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateCache = new Date(now).toUTCString();
  }
  return dateCache;
}

const kHead = Symbol('warden.head');

function storeHeader(this: http.ServerResponse & OutgoingInternals, firstLine: string, headers: unknown): void {
  const flat: string[] = [];
  let hasLength = false;
  let hasDate = false;
  const add = (name: string, value: unknown, validate: boolean): void => {
    if (validate) http.validateHeaderName(name);
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) return;
    if (lower === 'content-length') hasLength = true;
    else if (lower === 'date') hasDate = true;
    if (Array.isArray(value)) {
      for (const v of value as unknown[]) {
        if (validate) http.validateHeaderValue(name, v as string);
        flat.push(name, String(v));
      }
    } else {
      if (validate) http.validateHeaderValue(name, value as string);
      flat.push(name, String(value));
    }
  };
  if (headers) {
    if (Array.isArray(headers)) {
      if (headers.length && Array.isArray(headers[0])) {
        for (const entry of headers as unknown[][]) add(String(entry[0]), entry[1], true);
      } else {
        if (headers.length % 2 !== 0) {
          throw Object.assign(new TypeError("The argument 'headers' must have an even number of entries"), {
            code: 'ERR_INVALID_ARG_VALUE',
          });
        }
        for (let i = 0; i < headers.length; i += 2) add(String(headers[i]), headers[i + 1], true);
      }
    } else if (isOutHeaders(this, headers)) {
      // The progressive API's store ({lowercase: [name, value]}), already validated by setHeader.
      for (const key in headers) {
        const entry = headers[key];
        add(entry[0], entry[1], false);
      }
    } else {
      for (const key of Object.keys(headers as Record<string, unknown>)) {
        add(key, (headers as Record<string, unknown>)[key], true);
      }
    }
  }
  if (this.sendDate && !hasDate) flat.push('Date', utcDate());
  // As node's _storeHeader: a length it knows only where it would otherwise chunk (HTTP/1.1); to an HTTP/1.0 client
  // (useChunkedEncodingByDefault false) the body ends with the connection, without Content-Length.
  if (!hasLength && this._hasBody && this.useChunkedEncodingByDefault && !this._removedContLen && typeof this._contentLength === 'number') {
    flat.push('Content-Length', String(this._contentLength));
  }
  this.chunkedEncoding = false;
  // Non-null and truthy: Node's checks (`headersSent`, setHeader after send) see a stored head. Never written.
  this._header = firstLine;
  this._headerSent = false;
  this[kHead] = flat;
}

/** The fields of node's `_trailer` text ("Name: value\r\n" lines, written by addTrailers) as a flat list. */
function trailerPairs(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) out.push(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
  }
  return out;
}

/** Sets the request line and headers of `req` from the channel's request head, as Node's parser would. */
export function fillRequest(req: http.IncomingMessage, stream: ChannelRequest): void {
  const r = req as http.IncomingMessage & IncomingInternals;
  r.method = stream.method;
  r.url = stream.target;
  const version = /^(\d+)\.(\d+)$/.exec(stream.httpVersion);
  r.httpVersionMajor = version ? Number(version[1]) : 1;
  r.httpVersionMinor = version ? Number(version[2]) : 1;
  r.httpVersion = `${r.httpVersionMajor}.${r.httpVersionMinor}`;
  const raw = stream.headers.slice();
  if (typeof r._addHeaderLines === 'function') {
    r._addHeaderLines(raw, raw.length);
  } else {
    r.rawHeaders = raw;
  }
}

/** One request/response pair served over a channel stream. */
export interface ChannelExchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  socket: ChannelSocket;
  /** Resolves when the exchange is over (response ended, or aborted by either side). */
  done: Promise<void>;
}

/** Options of {@link createExchange}. */
export interface ExchangeOptions {
  /** `IncomingMessage` / `ServerResponse` classes (the server's `IncomingMessage`/`ServerResponse` options). */
  IncomingMessage?: typeof http.IncomingMessage;
  ServerResponse?: typeof http.ServerResponse;
}

/**
 * Builds a real `http.IncomingMessage` and `http.ServerResponse` for one channel stream and wires body, response,
 * flow control and aborts. The caller emits `'request'` with them.
 */
export function createExchange(stream: ChannelRequest, options: ExchangeOptions = {}, connection?: ChannelSocket): ChannelExchange {
  const socket = connection ?? new ChannelSocket(stream);
  const IM = options.IncomingMessage ?? http.IncomingMessage;
  const SR = options.ServerResponse ?? http.ServerResponse;

  const req = new IM(socket as never) as http.IncomingMessage & IncomingInternals;
  fillRequest(req, stream);
  req._read = function channelRead(): void {
    this._consuming = true;
    stream.resume();
  };

  const res = new SR(req) as unknown as http.ServerResponse & OutgoingInternals;
  replaceStoreHeader(res, storeHeader);
  res._send = function channelSend(data, encoding, callback, byteLength): boolean {
    if (!this._headerSent && this._header !== null) {
      this._headerSent = true;
      const head = (this[kHead] as string[] | undefined) ?? [];
      this[kHead] = undefined;
      if (!socket.destroyed) {
        try {
          const status = this.statusCode;
          const reason = this.statusMessage;
          // Only a phrase of the app's own goes over the channel; the router writes the standard one itself.
          if (reason && reason !== (http.STATUS_CODES[status] || 'unknown')) stream.respond(status, head, reason);
          else stream.respond(status, head);
        } catch (err) {
          // E.g. a head larger than a channel frame: fail this request (the router answers 502), keep the process.
          runtimeLogger().error({ err, status: this.statusCode }, 'cannot send the response head over the channel');
          socket.fail();
          return false;
        }
      }
    }
    return this._writeRaw(data, encoding, callback, byteLength);
  };
  // The router answers `Expect: 100-continue` itself; 1xx responses are not carried by the channel.
  res.writeContinue = function channelContinue(cb?: () => void): void {
    this._sent100 = true;
    if (cb) process.nextTick(cb);
  };
  res.writeProcessing = function channelProcessing(cb?: () => void): void {
    if (cb) process.nextTick(cb);
  };
  // As node's writeEarlyHints: nothing without a `link`; else `Link` first, then the other hints as given.
  res.writeEarlyHints = function channelEarlyHints(hints: unknown, cb?: () => void): void {
    const h = hints as Record<string, unknown> | null;
    if (h === null || typeof h !== 'object') {
      throw Object.assign(new TypeError('The "hints" argument must be of type object'), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    const link = Array.isArray(h.link) ? h.link.join(', ') : h.link;
    if (typeof link === 'string' && link.length > 0 && !this.headersSent) {
      const pairs = ['Link', link];
      for (const key of Object.keys(h)) if (key !== 'link') pairs.push(key, String(h[key]));
      stream.info?.(103, pairs);
    }
    if (cb) process.nextTick(cb);
  };
  socket.use(stream, res);

  const onDrain = (): void => {
    if (socket._httpMessage !== res) return; // another response of the connection
    if (!takeNeedDrain(res)) return;
    if (!res.writableEnded) res.emit('drain');
  };
  socket.on('drain', onDrain);

  // Request body: pushed as it arrives; a full readable buffer pauses the channel stream until `_read`.
  const onData = (chunk: Buffer): void => {
    socket.bodyRead += chunk.length;
    if (!req.push(chunk)) stream.pause();
  };
  const onEnd = (): void => {
    req.complete = true;
    req.push(null);
  };
  if (stream.upgrade === true) {
    // An upgrade request served as a plain request (no 'upgrade' listener): as node:http, it has no body; the
    // client's bytes after the head are dropped.
    onEnd();
  } else {
    stream.on('data', onData);
    stream.on('end', onEnd);
  }

  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  let over = false;
  // The body listeners stay: after the response, an unread body is still drained (req._dump) to its 'end'.
  const finishExchange = (): void => {
    if (over) return;
    over = true;
    socket.off('drain', onDrain);
    socket.off('close', onSocketClose);
    settle();
  };

  stream.once('abort', () => {
    if (over) return;
    // Like a client that closed its TCP connection: req 'aborted' (when its body was incomplete) and 'close',
    // res 'close' (through the socket's close listener that assignSocket installed).
    socket.markAborted(stream);
    req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    if (socket._httpMessage === res || connection === undefined) socket.destroy();
    finishExchange();
  });

  res.once('finish', () => {
    const trailer = res._trailer;
    if (trailer) stream.trailers?.(trailerPairs(trailer));
    socket.endResponse();
    // What Node's server does when a response finishes: pull an unread body off the wire, detach, emit 'close'.
    if (!req._consuming && !resumeScheduled(req)) req._dump();
    if (socket._httpMessage === res) {
      res.detachSocket(socket as never);
      socket.release(); // a pipelined request of the same connection may write now
    }
    process.nextTick(() => {
      if (!res._closed) {
        res._closed = true;
        (res as unknown as { destroyed: boolean }).destroyed = true;
        res.emit('close');
      }
    });
    finishExchange();
  });
  // res.destroy() by the app, an abort, or the client connection closed: the stream was aborted in the socket's
  // _destroy (or by the router).
  function onSocketClose(): void {
    if (!req.complete && !req.destroyed) req.destroy();
    finishExchange();
  }
  socket.once('close', onSocketClose);

  return { req, res, socket, done };
}
