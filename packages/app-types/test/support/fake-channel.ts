// TEST DOUBLE: an in-memory stand-in for @warden/shm-transport's AppChannel/AppRequest (its public surface), used
// only by this package's unit tests of the request/response adapters. The real channel is tested in
// channel-cross-process.test.ts.
import { EventEmitter } from 'events';
import type { ChannelEndpoint, ChannelRequest } from '../../src/runtime';

export interface FakeHead {
  method?: string;
  target?: string;
  httpVersion?: string;
  headers?: string[];
  remoteAddress?: string;
  remotePort?: number;
  contentLength?: number;
  tls?: boolean;
}

/** One request as the app sees it, recording what the app answers. */
export class FakeAppRequest extends EventEmitter implements ChannelRequest {
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;
  readonly headers: string[];
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress = '127.0.0.1';
  readonly localPort = 8080;
  readonly tls: boolean;
  readonly contentLength: number;
  paused = false;
  pauseCount = 0;
  status: number | null = null;
  responseHeaders: string[] | null = null;
  chunks: Buffer[] = [];
  ended = false;
  aborted = false;
  /** Events in order: 'respond', 'write', 'end', 'abort'. */
  log: string[] = [];
  /** Bytes the fake "ring" accepts before write() returns false; Infinity = never full. */
  capacity = Infinity;
  private buffered = 0;
  private readonly done: Promise<void>;
  private settle!: () => void;

  constructor(
    readonly id: number,
    head: FakeHead,
  ) {
    super();
    this.method = head.method ?? 'GET';
    this.target = head.target ?? '/';
    this.httpVersion = head.httpVersion ?? '1.1';
    this.headers = head.headers ?? ['Host', 'example.test'];
    this.remoteAddress = head.remoteAddress ?? '192.0.2.7';
    this.remotePort = head.remotePort ?? 40123;
    this.tls = head.tls ?? false;
    this.contentLength = head.contentLength ?? 0;
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  pause(): void {
    if (!this.paused) this.pauseCount++;
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.emit('resumed');
  }
  /** The reason phrase given to respond() (undefined: the standard one). */
  reason: string | undefined = undefined;
  respond(status: number, headers: string[], reason?: string): void {
    if (this.status !== null) throw new Error('respond called twice');
    this.status = status;
    this.reason = reason;
    this.responseHeaders = headers;
    this.log.push('respond');
  }
  write(chunk: Buffer): boolean {
    if (this.status === null) throw new Error('write before respond');
    if (this.ended) throw new Error('write after end');
    this.chunks.push(Buffer.from(chunk));
    this.log.push('write');
    this.emit('wrote', chunk);
    this.buffered += chunk.length;
    return this.buffered < this.capacity;
  }
  end(chunk?: Buffer): void {
    if (chunk) this.write(chunk);
    this.ended = true;
    this.log.push('end');
    this.settle();
  }
  /** Set by abort(true): the app reset the connection. */
  reset = false;
  abort(reset = false): void {
    this.aborted = true;
    this.reset = reset;
    this.log.push('abort');
    this.settle();
  }

  /** The router's side consumed what was written: the ring has room again. */
  drain(): void {
    this.buffered = 0;
    this.emit('drain');
  }
  /** Sends request body bytes, respecting pause() as the real transport does (waits for resume). */
  async sendBody(chunks: Buffer[], end = true): Promise<void> {
    for (const c of chunks) {
      while (this.paused) await new Promise((r) => this.once('resumed', r));
      this.emit('data', c);
    }
    if (end) this.emit('end');
  }
  /** Resolves when the app ended or aborted the response. */
  finished(): Promise<void> {
    return this.done;
  }
  body(): Buffer {
    return Buffer.concat(this.chunks);
  }
  header(name: string): string | undefined {
    const h = this.responseHeaders ?? [];
    for (let i = 0; i < h.length; i += 2) if (h[i].toLowerCase() === name.toLowerCase()) return h[i + 1];
    return undefined;
  }
}

/** The app end of a channel. */
export class FakeAppChannel extends EventEmitter implements ChannelEndpoint {
  readyCount = 0;
  closed = false;
  private nextId = 1;
  markReady(): void {
    this.readyCount++;
    this.emit('ready-sent');
  }
  close(): void {
    this.closed = true;
  }
  /** The router sends a request; body (if any) follows with sendBody. */
  request(head: FakeHead = {}): FakeAppRequest {
    const r = new FakeAppRequest(this.nextId++, head);
    this.emit('request', r);
    return r;
  }
}
