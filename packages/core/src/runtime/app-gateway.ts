import type { IncomingMessage, ServerResponse } from 'http';
import type { Socket } from 'net';
import { NodeExchange, TunnelExchange, upgradeOf, type ApplicationGateway, type LeanExchange, type LeanHandler, type RequestInfo } from '@warden/http-router';
import { ShmErrorCode, type RequestHead, type RouterChannel, type RouterStream, type RouterStreamSink } from '@warden/shm-transport';
import type { ChannelWorker as AppWorker, InFlight, RouterPool } from './fleet/router-pool';

/** Looks up the pool of an app by name (in a router process: the pools main told it about). */
export interface PoolDirectory {
  pool(app: string): RouterPool | undefined;
}

/** Counters for `/status`. */
export interface GatewayCounters {
  total: number;
}

/**
 * Hands requests the router passed to an application over that app's shared-memory channel and streams the response
 * back, with flow control both ways. Both HTTP paths reach the app through one {@link Forward}: the router's lean
 * path hands a LeanExchange, the node:http path is seen through the same contract (NodeExchange). The per-request
 * work is a map lookup, a least-busy pick, one request frame and one Forward object (the stream's sink and the
 * exchange's handler: no EventEmitter listeners on the stream, no closures).
 */
export class AppGateway implements ApplicationGateway {
  readonly counters: GatewayCounters = { total: 0 };

  constructor(private readonly apps: PoolDirectory) {}

  /** The node:http path: the same forwarding as handleLean() (the request seen as a LeanExchange). */
  handle(app: string, target: string | undefined, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
    const up = upgradeOf(req);
    this.handleLean(app, target, up === null ? new NodeExchange(req, res, info) : new TunnelExchange(req, res, info, up));
  }

  /**
   * Serves one request with `app`: 503 without app or process, 502 when the app aborts or sends a head HTTP forbids,
   * 503 after `limits.timeout`, the stream aborted when the client goes away.
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
      else forward(worker, pool.policy.timeoutMs, ex);
    });
  }
}

function forward(worker: AppWorker, timeoutMs: number, ex: LeanExchange): void {
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
  if (ex.startTunnel !== undefined && worker.channel.takesUpgrades) {
    // An upgrade request to an app that takes them: the client's bytes after the head are the request side of the
    // stream, and a 101 makes it a tunnel (PROTOCOL.md "Upgrades").
    ex.startTunnel();
    head.upgrade = true;
    head.contentLength = -1;
  }
  const f = new Forward(head, ex);
  f.send(worker);
  if (timeoutMs > 0) f.timer = setTimeout(onTimeout, timeoutMs, f);
  ex.attach(f); // request body (if any) flows from here; a client already gone aborts at once
}

/** Methods whose request may be sent again to another process when the first one never read it (RFC 9110 9.2.2). */
function idempotent(method: string): boolean {
  return method !== 'POST' && method !== 'PATCH' && method !== 'CONNECT' && method !== 'LOCK';
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
 * One request in flight: the head, the stream on the current worker, and the worker's in-flight list membership
 * (counts for least-busy dispatch and idle time; lets the supervisor move a request the app never read). The app's
 * response (as the stream's sink) goes to the exchange, the client's body (as the exchange's handler) goes to the
 * stream; back-pressure both ways. `done` once the response ended, failed or the client went away.
 */
class Forward implements InFlight, RouterStreamSink, LeanHandler {
  prev: InFlight | null = null;
  next: InFlight | null = null;
  sentAt = 0;
  done = false;
  responded = false;
  timer: NodeJS.Timeout | undefined = undefined;
  worker!: AppWorker;
  stream!: RouterStream;

  constructor(
    readonly head: RequestHead,
    readonly ex: LeanExchange,
  ) {}

  /** Sends the request head (and END when there is no body) on `worker`'s channel. */
  send(worker: AppWorker): void {
    this.worker = worker;
    this.sentAt = worker.channel.writePosition;
    worker.attach(this);
    const channel = worker.channel;
    // An app that asked for connection ids (the Node runtime: one socket per client connection) gets this one's.
    this.head.connection = channel.connectionIds ? connectionId(this.ex.socket, channel) : 0;
    this.stream = channel.request(this.head);
    this.stream.setSink(this); // before anything can fire: a failed request() errors the stream on the next tick only
  }

  // InFlight: the supervisor's view.
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
    this.ex.fail(503);
  }

  /** Ends this request's life on its worker (idempotent). */
  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.worker.detach(this);
  }

  // RouterStreamSink: app -> client.
  onResponse(status: number, headers: string[], reason?: string, http10?: boolean): void {
    if (this.done) return;
    this.responded = true;
    if (this.stream.tunnel && this.timer) {
      // A tunnel lives as long as both sides want: `limits.timeout` covers the wait for the app's answer only.
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.ex.respond(status, headers, reason, http10)) {
      // A head HTTP forbids: this request fails with 502, the app's other requests go on (an exception here would
      // otherwise close the whole channel).
      this.finish();
      this.stream.abort();
      this.ex.fail(502);
    }
  }

  onData(chunk: Buffer, last: boolean): void {
    this.forward(chunk, last, false);
  }

  /** As onData, with a view of the channel's ring valid during this call: the exchange writes it or copies it. */
  onDataView(view: Buffer, last: boolean): void {
    this.forward(view, last, true);
  }

  private forward(chunk: Buffer, last: boolean, view: boolean): void {
    if (this.done) return;
    if (last && !this.stream.tunnel) this.finish();
    const ok = view ? this.ex.writeView(chunk, last) : this.ex.write(chunk, last);
    if (!ok && !this.done) this.stream.pause();
  }

  onEnd(): void {
    if (this.done) return;
    if (this.stream.tunnel) {
      // The app ended its side of a tunnel: the client's lives on until the connection closes (onAbort).
      this.ex.end();
      return;
    }
    this.finish();
    // An end without a response (a retired process ending its open streams as it shuts down): the request was not
    // answered, which is a 502, not an empty 200 or a connection left waiting.
    if (!this.responded) this.ex.fail(502);
    else this.ex.end();
  }

  onDrain(): void {
    this.ex.resumeBody();
  }

  onTrailers(headers: string[]): void {
    if (!this.done) this.ex.trailers(headers);
  }

  onInfo(status: number, headers: string[]): void {
    if (!this.done) this.ex.informational(status, headers);
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

  onBodyView(view: Buffer, last: boolean): boolean {
    return this.stream.writeBodyView(view, last);
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

/**
 * A client connection as apps see it (PROTOCOL.md "Connections"): the channels that got a request on it (usually
 * one) and the id each of them knows it by; each is told CONN_CLOSED when the connection closes.
 */
interface ClientConnection {
  channels: RouterChannel[];
  ids: number[];
}

/** A client connection's ids, on its socket (a property and one shared 'close' listener: no closure per connection). */
const kConnectionIds = Symbol('warden.connection-ids');
type IdSocket = Socket & { [kConnectionIds]?: ClientConnection };

function onClientClose(this: IdSocket): void {
  const c = this[kConnectionIds];
  if (c !== undefined) connectionClosed(c);
}
/**
 * The last connection id each channel handed out. Ids are numbered per channel (per app process), not by one
 * counter for all of wardend: from a shared counter an app could tell how many client connections wardend took,
 * other apps' included, between two of its own requests.
 */
const lastIds = new WeakMap<RouterChannel, number>();

/** The id `channel` knows the client connection `sock` by (made on the connection's first request over it). */
export function connectionId(sock: Socket, channel: RouterChannel): number {
  let c = (sock as IdSocket)[kConnectionIds];
  if (c === undefined) {
    c = { channels: [], ids: [] };
    (sock as IdSocket)[kConnectionIds] = c;
    if (sock.destroyed) process.nextTick(connectionClosed, c);
    else sock.on('close', onClientClose); // 'close' comes once
  }
  const known = c.channels.indexOf(channel);
  if (known !== -1) return c.ids[known]!;
  const last = lastIds.get(channel) ?? 0;
  const id = last >= 0xffffffff ? 1 : last + 1;
  lastIds.set(channel, id);
  c.channels.push(channel);
  c.ids.push(id);
  return id;
}

function connectionClosed(c: ClientConnection): void {
  for (let i = 0; i < c.channels.length; i++) c.channels[i]!.connectionClosed(c.ids[i]!);
  c.channels = [];
  c.ids = [];
}

function onTimeout(f: Forward): void {
  if (f.done) return;
  f.finish();
  f.stream.abort();
  f.ex.fail(503);
}

/** The app reset the stream (node's `res.destroy()`): the client connection is dropped, no error page. */
function isReset(err: Error): boolean {
  return (err as { code?: string }).code === ShmErrorCode.STREAM_RESET;
}

export type { RouterStream };
