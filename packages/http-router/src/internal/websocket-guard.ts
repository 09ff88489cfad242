// Unit's `settings.http.websocket` on a WebSocket tunnelled to an app, applied where Unit's router applies them
// (its h1proto WebSocket reader): every client frame header is checked as it arrives — masked, a known opcode,
// control frames unfragmented and at most 125 bytes, a close payload not of 1 byte, continuations in order, and
// header + payload within `max_frame_size` (else close 1009; the others 1002, each with Unit's reason); `read_timeout`
// bounds the wait for the client's next bytes (then close 1001 "Remote peer is going away"); after
// `keepalive_interval` without client bytes the router sends the client a ping. The payload bytes are not touched.
// Differences from Unit: the router does not answer the client's pings itself (they reach the app, which answers,
// as every WebSocket library does), and does not check close codes.
import type { Socket } from 'net';
import type { WebSocketSettings } from './compiled-config';

const OP_CONT = 0;
const OP_TEXT = 1;
const OP_BINARY = 2;
const OP_CLOSE = 8;
const OP_PING = 9;
const OP_PONG = 10;

/** Incremental reader of frame headers in one direction: it knows where frames start. */
class FrameCursor {
  /** Header bytes of the frame being read (while incomplete). */
  private hdr = Buffer.alloc(14);
  private have = 0;
  /** Payload bytes of the current frame still to come. */
  private left = 0;

  /** Whether the last byte seen ended a frame (or none came yet). */
  get atBoundary(): boolean {
    return this.have === 0 && this.left === 0;
  }

  /** Feeds bytes; calls `onHeader` with each complete header (returning a close code stops: that code). */
  feed(b: Buffer, onHeader: ((h: Buffer, hsize: number, payload: number) => number) | null): number {
    let i = 0;
    while (i < b.length) {
      if (this.left > 0) {
        const n = Math.min(this.left, b.length - i);
        this.left -= n;
        i += n;
        continue;
      }
      this.hdr[this.have++] = b[i++];
      const need = headerSize(this.hdr, this.have);
      if (need === 0 || this.have < need) continue;
      const payload = payloadLength(this.hdr);
      if (onHeader !== null) {
        const code = onHeader(this.hdr, need, payload);
        if (code !== 0) return code;
      }
      this.have = 0;
      this.left = payload;
    }
    return 0;
  }
}

/** Size of the header whose first `have` bytes are in `h`, or 0 while that is not known yet. */
function headerSize(h: Buffer, have: number): number {
  if (have < 2) return 0;
  const len7 = h[1] & 0x7f;
  const mask = h[1] & 0x80 ? 4 : 0;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + mask;
}

function payloadLength(h: Buffer): number {
  const len7 = h[1] & 0x7f;
  if (len7 === 126) return h.readUInt16BE(2);
  if (len7 === 127) return Number(h.readBigUInt64BE(2));
  return len7;
}

/** A server frame (unmasked) with FIN set. */
function serverFrame(op: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0x80 | op, payload.length]), payload]);
}

function closeFrame(code: number, reason: string): Buffer {
  const p = Buffer.alloc(2 + Buffer.byteLength(reason));
  p.writeUInt16BE(code, 0);
  p.write(reason, 2);
  return serverFrame(OP_CLOSE, p);
}

/** The checks and timers of one WebSocket tunnel; `stop()` when the tunnel ends. */
export class WebSocketGuard {
  private readonly fromClient = new FrameCursor();
  private readonly toClient = new FrameCursor();
  private continuation = false;
  private readTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly s: WebSocketSettings,
    private readonly socket: Socket,
    /** Called when the guard closed the connection (the tunnel must end towards the app). */
    private readonly onClose: () => void,
  ) {
    if (s.readTimeout > 0) this.readTimer = setTimeout(() => this.fail(1001, 'Remote peer is going away'), s.readTimeout);
    if (s.keepaliveInterval > 0) this.pingTimer = setTimeout(this.ping, s.keepaliveInterval);
  }

  /** Client bytes on their way to the app; false when they broke a rule (the connection is being closed). */
  fromClientBytes(b: Buffer): boolean {
    if (this.closed) return false;
    this.readTimer?.refresh();
    this.pingTimer?.refresh();
    const code = this.fromClient.feed(b, this.checkHeader);
    if (code === 0) return true;
    this.fail(code, this.reason);
    return false;
  }

  /** App bytes on their way to the client (tracked so that a ping or close goes between frames). */
  toClientBytes(b: Buffer): void {
    this.toClient.feed(b, null);
  }

  stop(): void {
    this.closed = true;
    if (this.readTimer) clearTimeout(this.readTimer);
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.readTimer = this.pingTimer = null;
  }

  /** The server is stopping: close 1001 to the client (between the app's frames), the tunnel ends. */
  goingAway(): void {
    this.fail(1001, 'Server is shutting down');
  }

  /** The reason sent with the close of a broken rule (Unit's words for it). */
  private reason = '';

  /** Checks a client frame header in Unit's order; a broken rule sets `reason` and returns its close code. */
  private readonly checkHeader = (h: Buffer, hsize: number, payload: number): number => {
    const fin = (h[0] & 0x80) !== 0;
    const op = h[0] & 0x0f;
    if ((h[1] & 0x80) === 0) return this.broken(1002, 'Not masked client frame');
    if (op >= 8) {
      if (!fin) return this.broken(1002, 'Fragmented control frame');
      if (op !== OP_CLOSE && op !== OP_PING && op !== OP_PONG) return this.broken(1002, `Unrecognized opcode ${op}`);
      if (payload > 125) return this.broken(1002, `Control frame too big: ${payload} bytes`);
      if (op === OP_CLOSE && payload === 1) return this.broken(1002, 'Close frame payload length cannot be 1');
    } else {
      if (this.continuation && op !== OP_CONT) return this.broken(1002, `Continuation expected, but ${op} opcode received`);
      if (!this.continuation && op !== OP_TEXT && op !== OP_BINARY) return this.broken(1002, `Unrecognized opcode ${op}`);
      this.continuation = !fin;
    }
    if (hsize > this.s.maxFrameSize || payload > this.s.maxFrameSize - hsize) return this.broken(1009, `Message too big: ${payload} bytes`);
    return 0;
  };

  private broken(code: number, reason: string): number {
    this.reason = reason;
    return code;
  }

  private readonly ping = (): void => {
    if (this.closed) return;
    if (this.toClient.atBoundary && this.socket.writable) this.socket.write(serverFrame(OP_PING, Buffer.alloc(0)));
    this.pingTimer?.refresh();
  };

  /** Closes the client connection with `code` (the close frame only between the app's frames), ends the tunnel. */
  private fail(code: number, reason: string): void {
    if (this.closed) return;
    this.stop();
    if (this.toClient.atBoundary && this.socket.writable) this.socket.end(closeFrame(code, reason));
    else this.socket.destroy();
    this.onClose();
  }
}
