import type { ServerResponse } from 'http';
import type { Socket } from 'net';
import { switchingHead, type UpgradeRequest } from '@warden/http-router';
import { ShmErrorCode, type RequestHead, type RouterStream, type RouterStreamSink } from '@warden/shm-transport';
import type { AppWorker, InFlight } from './app-worker';

// An upgrade request passed to an app that announced UPGRADE (PROTOCOL.md "Upgrades"): the client's bytes after the
// head go to the app as the stream's request side from the start; a 101 answer is written to the client as it came
// and the stream then carries bytes both ways, each direction with the channel's flow control (the client socket
// is paused while the app grants no credit; the stream is paused while the client socket does not drain), so
// neither a slow client nor a slow app makes wardend buffer more than a window. Any other answer is an ordinary
// response on the request's ServerResponse (the connection closes after it).

/** The sink of an abandoned stream: whatever still comes is dropped. */
const IGNORE: RouterStreamSink = { onResponse() {}, onData() {}, onEnd() {}, onDrain() {}, onError() {} };

/** One upgrade request in flight on a worker (and, after 101, the tunnel it became). */
export class UpgradeTunnel implements InFlight, RouterStreamSink {
  prev: InFlight | null = null;
  next: InFlight | null = null;
  sentAt = 0;
  done = false;
  timer: NodeJS.Timeout | undefined = undefined;
  worker!: AppWorker;
  stream!: RouterStream;
  private responded = false;
  private open = false;
  private readonly socket: Socket;

  constructor(
    readonly head: RequestHead,
    private readonly up: UpgradeRequest,
    private readonly res: ServerResponse,
    private readonly fail: (res: ServerResponse, status: number) => void,
  ) {
    this.socket = up.socket;
  }

  /** Sends the upgrade request on `worker`'s channel and starts carrying the client's bytes to it. */
  send(worker: AppWorker): void {
    this.worker = worker;
    this.sentAt = worker.channel.writePosition;
    worker.attach(this);
    this.stream = worker.channel.request(this.head);
    this.stream.setSink(this);
    const sock = this.socket;
    if (this.up.head.length > 0) this.stream.writeBody(this.up.head);
    sock.on('data', (chunk: Buffer) => {
      if (!this.done && !this.stream.writeBody(chunk)) sock.pause();
    });
    sock.on('end', () => {
      if (!this.done) this.stream.endBody();
    });
    sock.on('close', () => this.clientGone());
    sock.resume();
  }

  movable(): boolean {
    return false; // the client's bytes may already be on their way to this process
  }

  moveTo(_to: AppWorker): void {}

  release(): void {
    this.worker.detach(this);
    this.stream.setSink(IGNORE);
    this.stream.abort();
  }

  giveUp(): void {
    if (this.done) return;
    this.finish();
    this.fail(this.res, 503);
  }

  onResponse(status: number, headers: string[], reason?: string): void {
    if (this.done) return;
    this.responded = true;
    if (!this.stream.tunnel) {
      // Not switching: an ordinary response, written through the ServerResponse (connection closed after it).
      try {
        if (reason === undefined) this.res.writeHead(status, headers);
        else this.res.writeHead(status, reason, headers);
      } catch {
        this.abortWith(502);
      }
      return;
    }
    const text = switchingHead(status, reason, headers);
    if (text === null) {
      this.abortWith(502);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.open = true;
    this.res.statusCode = 101; // for the access log
    this.socket.setTimeout(0); // request timeouts end here; the tunnel lives as long as both sides want
    this.socket.write(text);
  }

  onData(chunk: Buffer, last: boolean): void {
    if (this.done) return;
    if (!this.open) {
      if (last) {
        this.finish();
        this.res.end(chunk);
      } else if (!this.res.write(chunk)) {
        this.stream.pause();
        this.res.once('drain', () => this.stream.resume());
      }
      return;
    }
    if (!this.socket.write(chunk)) {
      this.stream.pause();
      this.socket.once('drain', () => this.stream.resume());
    }
    if (last) this.onEnd();
  }

  onEnd(): void {
    if (this.done) return;
    if (!this.open) {
      this.finish();
      this.res.end();
      return;
    }
    // The app ended its side: half-close the client's; the tunnel lives on until the client ends too.
    this.socket.end();
  }

  onDrain(): void {
    this.socket.resume();
  }

  onError(err: Error): void {
    if (this.done) return;
    this.finish();
    if (this.open || (err as { code?: string }).code === ShmErrorCode.STREAM_RESET) this.socket.destroy();
    else this.fail(this.res, 502);
  }

  /** The client connection closed (or was destroyed). */
  private clientGone(): void {
    if (this.done) return;
    this.finish();
    this.stream.abort();
  }

  private abortWith(status: number): void {
    this.finish();
    this.stream.abort();
    this.fail(this.res, status);
  }

  /** The request's `limits.timeout` passed before the app answered. */
  timeout(): void {
    if (this.done || this.responded) return;
    this.abortWith(503);
  }

  /** Ends this request's life on its worker (idempotent). */
  finish(): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearTimeout(this.timer);
    this.worker.detach(this);
  }
}

/** Sends an upgrade request (`head.upgrade` set) to `worker`, which takes upgrades, and tunnels it once the app answers 101. */
export function forwardUpgrade(
  worker: AppWorker, timeoutMs: number, head: RequestHead, res: ServerResponse, up: UpgradeRequest,
  fail: (res: ServerResponse, status: number) => void,
): void {
  const t = new UpgradeTunnel(head, up, res, fail);
  t.send(worker);
  if (timeoutMs > 0) t.timer = setTimeout(() => t.timeout(), timeoutMs);
}
