// A WebSocket upgrade request waiting for the app's decision (WebSocket-Node's `WebSocketRequest`): it reads the
// opening handshake (RFC 6455 §4.2.1) from the http request, and `accept()` writes the 101 response itself and returns
// the connection, or `reject()` writes an error response and ends the socket. Until then it keeps what the client
// sends (the upgrade's `head` and any later bytes) for the connection, and notices a client that hangs up.
import { createHash } from 'crypto';
import { EventEmitter } from 'events';
import { STATUS_CODES, type IncomingMessage } from 'http';
import * as url from 'url';
import type { ResolvedConfig } from './config';
import { WebSocketConnection, type UpgradedSocket } from './connection';

/** RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing it into Sec-WebSocket-Accept. */
const HANDSHAKE_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** An RFC 7230 token: visible ASCII without separators. Subprotocol and cookie names must be tokens. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 §4.1.1 cookie-octets, optionally in double quotes. */
const COOKIE_VALUE = /^(?:[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*|"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")$/;
/** Whether `c` may not appear in a cookie attribute value: controls, space, ';' and DEL. */
const forbiddenInCookie = (c: string): boolean => c <= ' ' || c === ';' || c === '\x7f';
const hasForbiddenCookieChar = (value: string): boolean => [...value].some(forbiddenInCookie);
/** `value` without controls, spaces and ';' (what could split the Set-Cookie line). */
const withoutCookieSeparators = (value: string): string => [...value].filter((c) => c > ' ' && c !== ';').join('');
const CR_LF = /[\r\n]/g;

/** A `Sec-WebSocket-Extensions` entry: `permessage-deflate; client_max_window_bits` → name and params. */
export interface RequestedExtension {
  name: string;
  params: { name: string; value: string | undefined }[];
}

/** A cookie sent by the client. */
export interface RequestCookie {
  name: string;
  value: string | null;
}

/** A cookie to set with the 101 response (`accept(protocol, origin, cookies)`). */
export interface ResponseCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  expires?: Date;
  maxage?: number | string;
  secure?: boolean;
  httponly?: boolean;
}

/** An error of the handshake: the status and headers the request is rejected with. */
type HandshakeError = Error & { httpCode?: number; headers?: Record<string, string> };

/** Bytes a client may send before the app accepts or rejects it (a 64 KiB frame and its longest header). */
const EARLY_BYTES_LIMIT = 0x10000 + 14;

/** An upgrade request to accept or reject. */
export class WebSocketRequest extends EventEmitter {
  readonly socket: UpgradedSocket;
  readonly httpRequest: IncomingMessage;
  /** The request target, as sent (`/chat?room=1`). */
  readonly resource: string;
  resourceURL!: url.UrlWithParsedQuery;
  host: string | undefined;
  /** `Origin` (version 13) or `Sec-WebSocket-Origin` (version 8). */
  origin: string | undefined;
  key: string | undefined;
  webSocketVersion = 0;
  /** The subprotocols the client asks for, lower-cased, in its order. */
  requestedProtocols: string[] = [];
  /** Each lower-cased protocol → as the client spelled it. */
  protocolFullCaseMap: Record<string, string> = {};
  requestedExtensions: RequestedExtension[] = [];
  cookies: RequestCookie[] = [];
  /** The client's address: the first X-Forwarded-For entry unless `ignoreXForwardedFor`. */
  remoteAddress: string | undefined;
  /** Every address the request went through, the client first. */
  remoteAddresses: (string | undefined)[];
  readonly serverConfig: ResolvedConfig;

  private resolved = false;
  private socketIsClosing = false;
  /** What the client sent before the accept: the upgrade's `head`, then any later bytes. */
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private pausedEarly = false;
  private readonly onEarlyData = (chunk: Buffer): void => {
    if (this.resolved) return;
    this.early.push(chunk);
    this.earlyBytes += chunk.length;
    // A client may not flood the server before it decided: past EARLY_BYTES_LIMIT, stop reading until accept().
    if (this.earlyBytes > EARLY_BYTES_LIMIT) {
      this.pausedEarly = true;
      this.socket.pause();
    }
  };
  private readonly onEarlyClose = (): void => {
    this.socketIsClosing = true;
  };

  constructor(socket: UpgradedSocket, httpRequest: IncomingMessage, serverConfig: ResolvedConfig, head?: Buffer) {
    super();
    this.socket = socket;
    this.httpRequest = httpRequest;
    this.resource = httpRequest.url ?? '/';
    this.remoteAddress = socket.remoteAddress;
    this.remoteAddresses = [this.remoteAddress];
    this.serverConfig = serverConfig;
    if (head && head.length > 0) {
      this.early.push(head);
      this.earlyBytes = head.length;
    }
    // Reading (rather than leaving the socket paused) is what makes a hang-up visible as 'end' before the accept.
    socket.on('data', this.onEarlyData);
    socket.on('end', this.onEarlyClose);
    socket.on('close', this.onEarlyClose);
    // A reset before the accept (or after a reject) must not become an uncaught 'error'.
    socket.on('error', this.onEarlyClose);
  }

  /** Reads the opening handshake; throws (with `httpCode`/`headers` where not 400) when it is not a valid one. */
  readHandshake(): void {
    const headers = this.httpRequest.headers;
    this.resourceURL = url.parse(this.resource, true);
    this.host = headers.host;
    if (!this.host) throw new Error('Client must provide a Host header.');
    this.key = header(headers['sec-websocket-key']);
    if (!this.key) throw new Error('Client must provide a value for Sec-WebSocket-Key.');
    this.webSocketVersion = parseInt(header(headers['sec-websocket-version']) ?? '', 10);
    if (!this.webSocketVersion) throw new Error('Client must provide a value for Sec-WebSocket-Version.');
    if (this.webSocketVersion !== 8 && this.webSocketVersion !== 13) {
      const err: HandshakeError = new Error(`Unsupported websocket client version: ${this.webSocketVersion}. Only versions 8 and 13 are supported.`);
      err.httpCode = 426;
      err.headers = { 'Sec-WebSocket-Version': '13' };
      throw err;
    }
    this.origin = header(this.webSocketVersion === 13 ? headers.origin : headers['sec-websocket-origin']);

    this.requestedProtocols = [];
    this.protocolFullCaseMap = {};
    for (const protocol of splitList(header(headers['sec-websocket-protocol']))) {
      const lower = protocol.toLowerCase();
      this.requestedProtocols.push(lower);
      this.protocolFullCaseMap[lower] = protocol;
    }

    const forwardedFor = header(headers['x-forwarded-for']);
    if (!this.serverConfig.ignoreXForwardedFor && forwardedFor) {
      this.remoteAddresses = [...splitList(forwardedFor), this.socket.remoteAddress];
      this.remoteAddress = this.remoteAddresses[0];
    }
    this.requestedExtensions = parseExtensions(header(headers['sec-websocket-extensions']));
    this.cookies = parseCookies(header(headers.cookie));
  }

  /**
   * Accepts: writes the 101 response (with `acceptedProtocol`, which the client must have asked for, `allowedOrigin`
   * and `cookies` to set) and returns the connection. A client that already hung up gets a connection that is
   * closed, whose 'close' (1006) follows on the next tick.
   */
  accept(acceptedProtocol?: string | null, allowedOrigin?: string | null, cookies?: ResponseCookie[]): WebSocketConnection {
    this.verifyResolution();
    const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptKey(this.key ?? '')}`];

    if (acceptedProtocol) {
      const fullCase = this.protocolFullCaseMap[acceptedProtocol.toLowerCase()] ?? acceptedProtocol;
      if (!TOKEN.test(fullCase)) this.failAccept(`Illegal character in subprotocol "${fullCase.replace(CR_LF, '')}".`);
      if (!this.requestedProtocols.includes(acceptedProtocol.toLowerCase())) this.failAccept('Specified protocol was not requested by the client.');
      lines.push(`Sec-WebSocket-Protocol: ${fullCase}`);
    }
    if (allowedOrigin) {
      const origin = allowedOrigin.replace(CR_LF, '');
      lines.push(this.webSocketVersion === 8 ? `Sec-WebSocket-Origin: ${origin}` : `Origin: ${origin}`);
    }
    if (cookies) {
      if (!Array.isArray(cookies)) this.failAccept('Value supplied for "cookies" argument must be an array.');
      const seen = new Set<string>();
      for (const cookie of cookies) {
        const line = this.setCookieLine(cookie);
        if (seen.has(cookie.name)) this.failAccept('You may not specify the same cookie name twice.');
        seen.add(cookie.name);
        lines.push(`Set-Cookie: ${line}`);
      }
    }

    this.resolved = true;
    this.emit('requestResolved', this);
    const connection = new WebSocketConnection(this.socket, [], acceptedProtocol, false, this.serverConfig);
    connection.webSocketVersion = this.webSocketVersion;
    connection.remoteAddress = this.remoteAddress;
    connection.remoteAddresses = this.remoteAddresses;

    const initial = Buffer.concat(this.early);
    this.early = [];
    this.stopEarlyReading();
    if (this.socketIsClosing) {
      // The client hung up before the accept: the connection is closed already; 'close' follows once the app had
      // the chance to listen for it.
      connection.connected = false;
      connection.state = 'closed';
      process.nextTick(() => connection.drop(WebSocketConnection.CLOSE_REASON_ABNORMAL, 'TCP connection lost before handshake completed.', true));
    } else {
      this.socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      connection._addSocketEventListeners(initial);
      this.socket.removeListener('error', this.onEarlyClose);
      if (this.pausedEarly) this.socket.resume();
    }
    this.emit('requestAccepted', connection);
    return connection;
  }

  /**
   * Rejects: writes an HTTP error response (`status`, 403 by default; `reason` in X-WebSocket-Reject-Reason;
   * `extraHeaders`) and ends the socket.
   */
  reject(status?: number, reason?: string, extraHeaders?: Record<string, unknown>): void {
    this.verifyResolution();
    this.resolved = true;
    this.emit('requestResolved', this);
    if (typeof status !== 'number') status = 403;
    const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}`, 'Connection: close'];
    if (reason) lines.push(`X-WebSocket-Reject-Reason: ${reason.replace(CR_LF, '')}`);
    for (const [name, value] of Object.entries(extraHeaders ?? {})) lines.push(`${name.replace(CR_LF, '')}: ${String(value).replace(CR_LF, '')}`);
    if (!this.socketIsClosing && !this.socket.destroyed) {
      // Keep reading (and dropping) what the client sends, so that its end closes the socket.
      this.socket.end(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
      this.socket.once('finish', () => setTimeout(() => this.socket.destroy(), this.serverConfig.closeTimeout).unref());
    } else {
      this.socket.destroy();
    }
    this.emit('requestRejected', this);
  }

  /** The `Set-Cookie` value for `cookie`; rejects with 500 and throws when it is not a valid cookie. */
  private setCookieLine(cookie: ResponseCookie): string {
    if (!cookie || !cookie.name || !cookie.value) this.failAccept('Each cookie to set must at least provide a "name" and "value"');
    // Control characters and ';' are removed (no header injection), then what is left must be valid.
    const name = withoutCookieSeparators(cookie.name);
    const value = withoutCookieSeparators(cookie.value);
    cookie.name = name;
    cookie.value = value;
    if (!TOKEN.test(name)) this.failAccept(`Illegal character in cookie name "${name}"`);
    if (!COOKIE_VALUE.test(value)) this.failAccept(`Illegal character in cookie value "${value}"`);
    const parts = [`${name}=${value}`];
    if (cookie.path) {
      if (hasForbiddenCookieChar(cookie.path)) this.failAccept('Illegal character in cookie path');
      parts.push(`Path=${cookie.path}`);
    }
    if (cookie.domain) {
      if (typeof cookie.domain !== 'string') this.failAccept('Domain must be specified and must be a string.');
      if (hasForbiddenCookieChar(cookie.domain)) this.failAccept('Illegal character in cookie domain');
      parts.push(`Domain=${cookie.domain.toLowerCase()}`);
    }
    if (cookie.expires) {
      if (!(cookie.expires instanceof Date)) this.failAccept('Value supplied for cookie "expires" must be a valid date object');
      parts.push(`Expires=${cookie.expires.toUTCString()}`);
    }
    if (cookie.maxage) {
      const maxAge = typeof cookie.maxage === 'string' ? parseInt(cookie.maxage, 10) : cookie.maxage;
      if (isNaN(maxAge) || maxAge <= 0) this.failAccept('Value supplied for cookie "maxage" must be a non-zero number');
      parts.push(`Max-Age=${Math.round(maxAge)}`);
    }
    if (cookie.secure) {
      if (typeof cookie.secure !== 'boolean') this.failAccept('Value supplied for cookie "secure" must be of type boolean');
      parts.push('Secure');
    }
    if (cookie.httponly) {
      if (typeof cookie.httponly !== 'boolean') this.failAccept('Value supplied for cookie "httponly" must be of type boolean');
      parts.push('HttpOnly');
    }
    return parts.join(';');
  }

  /** An invalid accept() argument: the request is rejected with 500 and the app gets the error. */
  private failAccept(message: string): never {
    this.reject(500);
    throw new Error(message);
  }

  private verifyResolution(): void {
    if (this.resolved) throw new Error('WebSocketRequest may only be accepted or rejected one time.');
  }

  private stopEarlyReading(): void {
    this.socket.removeListener('data', this.onEarlyData);
    this.socket.removeListener('end', this.onEarlyClose);
    this.socket.removeListener('close', this.onEarlyClose);
  }
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + HANDSHAKE_GUID)
    .digest('base64');
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** A comma-separated header value as its entries. */
function splitList(value: string | undefined): string[] {
  return value ? value.split(/,\s*/).filter((v) => v !== '') : [];
}

function parseExtensions(value: string | undefined): RequestedExtension[] {
  return splitList(value?.toLowerCase()).map((entry) => {
    const [name, ...params] = entry.split(/;\s*/);
    return {
      name: name!,
      params: params.map((param) => {
        const [key, val] = param.split('=');
        return { name: key!, value: val };
      }),
    };
  });
}

function parseCookies(value: string | undefined): RequestCookie[] {
  if (!value) return [];
  return value.split(/[;,] */).map((pair) => {
    const eq = pair.indexOf('=');
    if (eq === -1) return { name: pair, value: null };
    let cookieValue = pair.slice(eq + 1).trim();
    if (cookieValue.startsWith('"')) cookieValue = cookieValue.slice(1, -1);
    try {
      cookieValue = decodeURIComponent(cookieValue);
    } catch {
      // Not percent-encoded after all: kept as sent.
    }
    return { name: pair.slice(0, eq).trim(), value: cookieValue };
  });
}
