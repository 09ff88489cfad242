// Upgrade requests (`Connection: upgrade` + `Upgrade: ...`, e.g. WebSocket). node:http hands them to the server's
// 'upgrade' listener with the raw socket: its parser gives the connection up. The router routes them like any request,
// with a ServerResponse written straight onto that socket (an action that does not upgrade answers as usual, then the
// connection closes); a `pass` to an application that takes upgrades, and `proxy`, tunnel the connection instead.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'http';
import type { Socket } from 'net';
import type { WebSocketSettings } from './compiled-config';

const kUpgrade = Symbol.for('warden.router.upgrade');

/** The raw connection of an upgrade request, as node:http's 'upgrade' event gave it. */
export interface UpgradeRequest {
  /** The client connection (TCP or TLS), no longer read by node:http. */
  readonly socket: Socket;
  /** Bytes the client sent after the request head, already read from the socket. */
  readonly head: Buffer;
  /** `settings.http.websocket` when the upgrade is to WebSocket (`Upgrade: websocket`), else null. */
  readonly websocket: WebSocketSettings | null;
}

/**
 * The raw connection of `req` when it is an upgrade request the router took over (its response goes straight onto the
 * socket and the connection closes after it), else null. A gateway that tunnels writes the 101 head itself (see
 * {@link switchingHead}) and then carries bytes both ways; otherwise it answers through the ServerResponse as usual.
 */
export function upgradeOf(req: IncomingMessage): UpgradeRequest | null {
  return (req as IncomingMessage & { [kUpgrade]?: UpgradeRequest })[kUpgrade] ?? null;
}

/**
 * Marks `req` as an upgrade request on `socket` and makes the ServerResponse (of the router's response class) that
 * answers it when nothing tunnels: written onto the socket, `Connection: close`, the connection ended after it.
 */
export function upgradeResponse<R extends ServerResponse>(
  Res: new (req: IncomingMessage) => R,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
  ws: WebSocketSettings | null,
): R {
  const websocket = ws !== null && /^\s*websocket\s*$/i.test(String(req.headers.upgrade)) ? ws : null;
  (req as IncomingMessage & { [kUpgrade]?: UpgradeRequest })[kUpgrade] = { socket, head, websocket };
  // node:http took its 'error' and 'timeout' listeners off the socket when it gave it up: a reset client must not
  // become an uncaught exception, and the router's timeouts (send_timeout until an answer) still end it.
  socket.on('error', () => socket.destroy());
  socket.on('timeout', () => socket.destroy());
  const res = new Res(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    if (!socket.destroyed) socket.end();
  });
  return res;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * The `HTTP/1.1 101 ...` head for a tunnel, from the status, reason phrase and flat header list an app or upstream
 * sent, or null when a name or value is one HTTP forbids (no response splitting through an app's head).
 */
export function switchingHead(status: number, reason: string | undefined, headers: string[]): string | null {
  const phrase = reason ?? STATUS_CODES[status] ?? 'unknown';
  if (!FIELD_VALUE.test(phrase)) return null;
  let out = `HTTP/1.1 ${status} ${phrase}\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    if (!TOKEN.test(headers[i]) || !FIELD_VALUE.test(headers[i + 1])) return null;
    out += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  return out + '\r\n';
}

/**
 * Pipes an upgraded client connection and an upgraded upstream connection into each other with back-pressure (each
 * side pauses while the other does not drain); either side's end half-closes the other, either side's error or
 * close destroys both.
 */
export function spliceSockets(client: Socket, upstream: Socket): void {
  client.setTimeout(0);
  upstream.setTimeout(0);
  client.pipe(upstream);
  upstream.pipe(client);
  const both = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', both);
  upstream.on('error', both);
  client.on('close', both);
  upstream.on('close', both);
}
