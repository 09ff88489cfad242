import * as http from 'http';
import { ChannelDuplex } from './channel-duplex';
import type { ChannelRequest } from './channel-types';
import { fillRequest } from './channel-exchange';
import { runtimeLogger } from './runtime-logger';

// Upgrades (PROTOCOL.md "Upgrades"): an upgrade request whose server has an 'upgrade' listener becomes
// `server.emit('upgrade', req, socket, head)` with `socket` an UpgradeSocket over the channel stream. What the app
// writes to it is what it would write to a TCP socket: the HTTP response head as text (ws, socket.io and graphql-ws
// write "HTTP/1.1 101 Switching Protocols\r\n...\r\n\r\n" themselves), then the new protocol's bytes. The head is
// parsed here into the RESPONSE frame (the router writes its own head to the client); the rest goes out as DATA.

/** Longest response head accepted from the app before it is treated as broken (the router's frame bounds it too). */
const MAX_HEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');

/**
 * The socket of an upgraded request: a Duplex over the channel stream, with net.Socket's address fields. Reads are
 * the client's bytes (flow-controlled: a full readable buffer pauses the stream, so the router stops granting
 * credit), writes go to the client once the app's response head was parsed.
 */
export class UpgradeSocket extends ChannelDuplex {
  /** Response head bytes written so far while it is incomplete; null once sent. */
  private head: Buffer | null = Buffer.alloc(0);
  private ended = false;
  private received = 0;
  private written = 0;
  private timer: NodeJS.Timeout | null = null;
  private timeoutMs = 0;

  constructor(private readonly stream: ChannelRequest) {
    super(stream);
    stream.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.touch();
      if (!this.push(chunk)) stream.pause();
    });
    stream.on('end', () => this.push(null));
    stream.on('abort', () => {
      // The client went away or the channel closed: as a TCP reset.
      this.ended = true;
      this.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    });
    stream.on('drain', () => this.emit('channelDrain'));
  }

  get bytesRead(): number {
    return this.received;
  }

  get bytesWritten(): number {
    return this.written;
  }

  get readyState(): string {
    if (this.destroyed) return 'closed';
    if (this.readableEnded) return this.writableEnded ? 'closed' : 'writeOnly';
    return this.writableEnded ? 'readOnly' : 'open';
  }

  override _read(): void {
    this.stream.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.written += chunk.length;
    this.touch();
    let body = chunk;
    if (this.head !== null) {
      const sofar = Buffer.concat([this.head, chunk]);
      const at = sofar.indexOf(CRLFCRLF);
      if (at < 0) {
        if (sofar.length > MAX_HEAD) {
          cb(new Error('the response head written to the upgraded socket is not HTTP or too large'));
          return;
        }
        this.head = sofar;
        cb();
        return;
      }
      this.head = null;
      if (!this.respond(sofar.subarray(0, at))) {
        cb(new Error('the response head written to the upgraded socket is not a valid HTTP/1.x head'));
        return;
      }
      body = sofar.subarray(at + 4);
    }
    if (body.length === 0 || this.stream.write(body)) cb();
    else this.once('channelDrain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.endStream();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearTimer();
    if (!this.ended) {
      this.ended = true;
      // destroy(err) resets the client connection; destroy() after writing (as ws and socket.io do once the close
      // handshake is over) lets what was written go out, then ends.
      if (err || this.head !== null) this.stream.abort(true);
      else this.stream.end();
    }
    cb(err);
  }

  private endStream(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.head !== null)
      this.stream.abort(true); // nothing that parses as a response was written
    else this.stream.end();
  }

  /** Parses "HTTP/1.x SSS reason\r\nName: value\r\n..." and sends it as the RESPONSE; false when it is not HTTP. */
  private respond(text: Buffer): boolean {
    const lines = text.toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) return false;
    const status = Number(m[1]);
    const headers: string[] = [];
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) return false;
      const name = lines[i].slice(0, colon);
      const lower = name.toLowerCase();
      // The router frames the client connection itself.
      if (lower === 'transfer-encoding' || lower === 'keep-alive') continue;
      headers.push(name, lines[i].slice(colon + 1).trim());
    }
    const reason = m[2];
    try {
      if (reason !== undefined && reason !== (http.STATUS_CODES[status] || 'unknown')) this.stream.respond(status, headers, reason);
      else this.stream.respond(status, headers);
    } catch (err) {
      runtimeLogger().error({ err, status }, 'cannot send the upgrade response head over the channel');
      return false;
    }
    return true;
  }

  /** As net.Socket.setTimeout: 'timeout' after `ms` without reads or writes (0 disarms). */
  setTimeout(ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    this.clearTimer();
    this.timeoutMs = ms > 0 ? ms : 0;
    this.touch();
    return this;
  }

  private touch(): void {
    if (this.timeoutMs === 0 || this.destroyed) return;
    if (this.timer !== null) this.timer.refresh();
    else
      this.timer = setTimeout(() => {
        this.timer = null;
        this.emit('timeout');
      }, this.timeoutMs);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timeoutMs = 0;
  }
}

/**
 * Emits `'upgrade'` on `server` for an upgrade stream, as node:http does: `req` (complete, no body, `upgrade` true),
 * the socket, and an empty `head` (every byte of the client after its head arrives through the socket).
 */
export function emitUpgrade(server: http.Server, stream: ChannelRequest, IM: typeof http.IncomingMessage = http.IncomingMessage): UpgradeSocket {
  const socket = new UpgradeSocket(stream);
  const req = new IM(socket as never);
  fillRequest(req, stream);
  (req as http.IncomingMessage & { upgrade: boolean }).upgrade = true;
  req.complete = true;
  req.push(null);
  server.emit('upgrade', req, socket, Buffer.alloc(0));
  return socket;
}
