import type { IncomingMessage, ServerResponse } from 'http';
import type { Socket } from 'net';
import { NodeExchange } from './node-exchange';
import type { LeanHandler, RequestInfo } from './ports';
import { switchingHead, type UpgradeRequest } from './upgrade';
import { WebSocketGuard } from './websocket-guard';

/** The open tunnel of a client socket (set once its 101 is written). */
const TUNNEL = Symbol('warden.tunnel');

/**
 * Ends the open tunnel on `sock` now, if there is one (the server is stopping: a tunnel has no end of its own to
 * wait for): a WebSocket gets a close 1001 from the router, any other protocol the connection's close.
 */
export function endTunnel(sock: Socket): void {
  (sock as Socket & { [TUNNEL]?: TunnelExchange })[TUNNEL]?.goingAway();
}

/**
 * An upgrade request node:http gave up to the router, seen through the LeanExchange contract. Until `startTunnel()` it
 * is a NodeExchange answering on the raw socket (the connection closes after the response). After it, the client's
 * bytes after the head are the request body, delivered with back-pressure (the socket is paused while the handler
 * takes no more); a 101 answer is written as the app sent it, and from then on `write`/`end` carry the new protocol's
 * bytes to the client, pausing the app's side while the socket does not drain (a client that reads nothing costs at
 * most the socket's buffer and the channel's window).
 */
export class TunnelExchange extends NodeExchange {
  private tunnelling = false;
  private open = false;
  private handler: LeanHandler | null = null;
  /** Unit's websocket settings at work once a WebSocket tunnel is open. */
  private guard: WebSocketGuard | null = null;
  /** The client socket is corked until the end of this turn (see write). */
  private corked = false;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    info: RequestInfo,
    private readonly up: UpgradeRequest,
  ) {
    super(req, res, info);
  }

  startTunnel(): void {
    this.tunnelling = true;
    (this as { contentLength: number }).contentLength = -1;
  }

  override attach(handler: LeanHandler): void {
    if (!this.tunnelling) {
      super.attach(handler);
      return;
    }
    this.handler = handler;
    const sock = this.up.socket;
    if (sock.destroyed) {
      handler.onAbort();
      return;
    }
    if (this.up.head.length > 0 && !handler.onBody(this.up.head)) sock.pause();
    sock.on('data', (chunk: Buffer) => {
      if (this.guard !== null && !this.guard.fromClientBytes(chunk)) return;
      if (!handler.onBody(chunk)) sock.pause();
    });
    sock.on('end', () => handler.onBodyEnd());
    sock.on('close', () => {
      this.guard?.stop();
      handler.onAbort();
    });
    sock.resume();
  }

  override resumeBody(): void {
    if (this.tunnelling) this.up.socket.resume();
    else super.resumeBody();
  }

  override respond(status: number, headers: string[], reason?: string): boolean {
    if (!this.tunnelling || status !== 101) return super.respond(status, headers, reason);
    const text = switchingHead(status, reason, headers);
    if (text === null) return false;
    this.open = true;
    this.res.statusCode = 101; // what the access log shows
    const sock = this.up.socket;
    sock.setTimeout(0); // request timeouts end here: the tunnel lives as long as both sides want
    sock.write(text);
    (sock as Socket & { [TUNNEL]?: TunnelExchange })[TUNNEL] = this;
    const ws = this.up.websocket;
    if (ws !== null) this.guard = new WebSocketGuard(ws, sock, () => this.handler?.onAbort());
    return true;
  }

  override write(chunk: Buffer, last: boolean): boolean {
    if (!this.open) return super.write(chunk, last);
    const sock = this.up.socket;
    this.guard?.toClientBytes(chunk);
    if (!this.corked && chunk.length < sock.writableHighWaterMark) {
      // Small pieces (WebSocket messages) the app sent in one turn go out in one writev when the turn ends: one
      // syscall per client and turn instead of one per message. A large one is written at once, as before (corked,
      // it would fill the socket's buffer and pause the app's side every turn).
      this.corked = true;
      sock.cork();
      process.nextTick(TunnelExchange.uncork, this);
    }
    const ok = sock.write(chunk);
    if (last) sock.end();
    else if (!ok) sock.once('drain', () => this.handler?.onWritable());
    return ok || last;
  }

  /** See endTunnel. */
  goingAway(): void {
    if (this.guard !== null) this.guard.goingAway();
    else this.up.socket.destroy();
  }

  private static uncork(ex: TunnelExchange): void {
    ex.corked = false;
    ex.up.socket.uncork();
  }

  override end(): void {
    if (this.open) this.up.socket.end();
    else super.end();
  }

  override fail(status: number): void {
    if (this.open) this.up.socket.destroy();
    else super.fail(status);
  }

  override reset(): void {
    if (this.open) this.up.socket.destroy();
    else super.reset();
  }
}
