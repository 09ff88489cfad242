// A WebSocket client on a raw TCP socket, for tests that must send what a well-behaved client never sends (unmasked
// frames, reserved opcodes and bits, control frames in pieces, bad close payloads) and read every frame the server
// sends back as it is on the wire.
import { createHash, randomBytes } from 'crypto';
import { connect, type Socket } from 'net';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

/** A frame as the server sent it; `code` and `reason` for a close frame with a payload. */
export interface WsFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  mask: boolean;
  data: Buffer;
  code?: number;
  reason?: string;
}

export interface FrameOptions {
  fin?: boolean;
  /** Client frames are masked unless `mask: false`. */
  mask?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /** Write the frame in pieces of this many bytes, one write each. */
  chopsize?: number;
}

/** The Sec-WebSocket-Accept value a server must answer `key` with (RFC 6455 §4.2.2). */
export function acceptFor(key: string): string {
  return createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code = 1000, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** One frame's bytes as a client sends them. */
export function frameBytes(opcode: number, payload: string | Buffer, o: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const masked = o.mask !== false;
  const b0 = (o.fin === false ? 0 : 0x80) | (o.rsv1 ? 0x40 : 0) | (o.rsv2 ? 0x20 : 0) | (o.rsv3 ? 0x10 : 0) | opcode;
  let head: Buffer;
  if (data.length < 126) head = Buffer.from([b0, data.length]);
  else if (data.length < 65536) {
    head = Buffer.from([b0, 126, 0, 0]);
    head.writeUInt16BE(data.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(data.length), 2);
  }
  if (!masked) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** The answer to an upgrade request: its status and headers, and the connection when it is 101. */
export interface UpgradeAnswer {
  status: number;
  headers: Record<string, string>;
  key: string;
  ws: RawWs;
}

export class RawWs {
  private buf = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    const end = (): void => {
      this.ended = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  /**
   * Sends an upgrade request (Unit's test client's headers unless `headers` is given: Host, Upgrade, Connection,
   * Sec-WebSocket-Key, Sec-WebSocket-Protocol: chat, Sec-WebSocket-Version: 13) and reads the answer's head.
   */
  static async upgrade(
    port: number,
    o: { path?: string; method?: string; http10?: boolean; headers?: Record<string, string | number> } = {},
  ): Promise<UpgradeAnswer> {
    const key = randomBytes(16).toString('base64');
    const headers = o.headers ?? {
      Host: 'localhost',
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Protocol': 'chat',
      'Sec-WebSocket-Version': 13,
    };
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((ok, fail) => socket.once('connect', ok).once('error', fail));
    const ws = new RawWs(socket);
    const lines = [`${o.method ?? 'GET'} ${o.path ?? '/'} HTTP/1.${o.http10 ? 0 : 1}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    const end = await ws.until(() => ws.buf.indexOf('\r\n\r\n') >= 0, 5000);
    if (!end) throw new Error(`no answer head: ${JSON.stringify(ws.buf.toString('latin1'))}`);
    const at = ws.buf.indexOf('\r\n\r\n');
    const [status, ...rest] = ws.buf.subarray(0, at).toString('latin1').split('\r\n');
    ws.buf = ws.buf.subarray(at + 4);
    const h: Record<string, string> = {};
    for (const line of rest) {
      const c = line.indexOf(':');
      h[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
    }
    return { status: Number(status.split(' ')[1]), headers: h, key: String(headers['Sec-WebSocket-Key'] ?? key), ws };
  }

  /** Writes one frame (in pieces with `chopsize`). */
  async write(opcode: number, payload: string | Buffer = '', o: FrameOptions = {}): Promise<void> {
    await this.writeRaw(frameBytes(opcode, payload, o), o.chopsize);
  }

  /** Writes bytes as they are (in pieces with `chopsize`), each piece once the socket took the one before. */
  async writeRaw(bytes: Buffer, chopsize?: number): Promise<void> {
    const step = chopsize ?? bytes.length;
    for (let i = 0; i < bytes.length || i === 0; i += step) {
      await new Promise<void>((ok) => this.socket.write(bytes.subarray(i, i + step), () => ok()));
      if (bytes.length === 0) break;
    }
  }

  /** Reads the next frame the server sent; throws after `timeoutMs` or when the connection ended without one. */
  async read(timeoutMs = 10_000): Promise<WsFrame> {
    let f: WsFrame | null = null;
    await this.until(() => (f = this.parse()) !== null || this.ended, timeoutMs);
    if (f === null) throw new Error(this.ended ? 'connection ended without a frame' : `no frame within ${timeoutMs} ms`);
    return f;
  }

  /** Whatever the server sends within `ms` (Unit's tests' `recvall` with a read timeout). */
  async recvall(ms: number): Promise<Buffer> {
    await new Promise((r) => setTimeout(r, ms));
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): WsFrame | null {
    const b = this.buf;
    if (b.length < 2) return null;
    const masked = (b[1] & 0x80) !== 0;
    let len = b[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (b.length < 4) return null;
      len = b.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(b.readBigUInt64BE(2));
      off = 10;
    }
    if (masked) off += 4;
    if (b.length < off + len) return null;
    const data = Buffer.from(b.subarray(off, off + len));
    this.buf = b.subarray(off + len);
    const f: WsFrame = {
      fin: (b[0] & 0x80) !== 0,
      rsv1: (b[0] & 0x40) !== 0,
      rsv2: (b[0] & 0x20) !== 0,
      rsv3: (b[0] & 0x10) !== 0,
      opcode: b[0] & 0x0f,
      mask: masked,
      data,
    };
    if (f.opcode === OP.CLOSE && data.length >= 2) {
      f.code = data.readUInt16BE(0);
      f.reason = data.subarray(2).toString();
    }
    return f;
  }

  private async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    return true;
  }
}
