// One WebSocket frame (RFC 6455 §5.2), in WebSocket-Node's shape: the connection parses received frames into it with
// `addData()` and serialises outgoing ones with `toBuffer()`; apps that set `assembleFragments: false` receive it in
// 'frame' events. The checks that only need the frame itself (length limits, control frame rules) are made here and
// reported through `protocolError` with a `dropReason`, on which the connection closes; `frameTooLarge` only when
// the frame's config gives `maxReceivedFrameSize` (the connection gives none: frame sizes are the router's).
import { randomBytes } from 'crypto';
import type { ByteQueue } from './byte-queue';

const EMPTY = Buffer.alloc(0);

/** Where `addData()` stands in the frame (`parseState`). */
const ParseState = { Header: 1, Length16: 2, Length64: 3, MaskKey: 4, Payload: 5, Complete: 6 } as const;

/** The part of the server config a frame reads. */
export interface FrameConfig {
  maxReceivedFrameSize?: number;
}

/** A WebSocket frame, received (filled by `addData`) or to send (filled by the caller, then `toBuffer`). */
export class WebSocketFrame {
  static readonly CONTINUATION = 0x00;
  static readonly TEXT_FRAME = 0x01;
  static readonly BINARY_FRAME = 0x02;
  static readonly CONNECTION_CLOSE = 0x08;
  static readonly PING = 0x09;
  static readonly PONG = 0x0a;

  fin = false;
  rsv1 = false;
  rsv2 = false;
  rsv3 = false;
  opcode = 0;
  /** Whether the payload is (or is to be) masked. */
  mask = false;
  /** Payload length as announced in the header (for a close frame: status code included). */
  length = 0;
  /** The payload, unmasked; for a close frame the reason only (the status code is in `closeStatus`). */
  binaryPayload: Buffer = EMPTY;
  /** A close frame's status code, -1 when it carries none. */
  closeStatus = -1;
  /** Set when the frame breaks the protocol; `dropReason` says how. */
  protocolError = false;
  /** Set when the frame is longer than `maxReceivedFrameSize`. */
  frameTooLarge = false;
  /** Set for a close frame with a 1-byte payload (a status code needs 2). */
  invalidCloseFrameLength = false;
  dropReason = '';
  /** Where `addData()` stands: 1 header, 2-3 extended length, 4 masking key, 5 payload, 6 complete. */
  parseState: number = ParseState.Header;

  /** The 4-byte masking key of a received masked frame. */
  maskBytes: Buffer;
  frameHeader: Buffer;
  config: FrameConfig;

  /** `maskBytes` and `frameHeader` are scratch buffers WebSocket-Node reuses across frames; both are optional here. */
  constructor(maskBytes?: Buffer, frameHeader?: Buffer, config?: FrameConfig) {
    this.maskBytes = maskBytes ?? Buffer.alloc(4);
    this.frameHeader = frameHeader ?? Buffer.alloc(10);
    this.config = config ?? {};
  }

  /**
   * Consumes bytes of this frame from `queue`. Returns true once the frame is complete or found invalid (check
   * `protocolError` and `frameTooLarge`), false while more bytes are needed.
   */
  addData(queue: ByteQueue): boolean {
    if (this.parseState === ParseState.Header) {
      if (queue.length < 2) return false;
      const [first, second] = queue.take(2);
      this.fin = (first & 0x80) !== 0;
      this.rsv1 = (first & 0x40) !== 0;
      this.rsv2 = (first & 0x20) !== 0;
      this.rsv3 = (first & 0x10) !== 0;
      this.opcode = first & 0x0f;
      this.mask = (second & 0x80) !== 0;
      this.length = second & 0x7f;
      if (this.opcode >= 0x08) {
        // RFC 6455 §5.5: control frames carry at most 125 bytes and are never fragmented.
        if (this.length > 125) return this.fail('Illegal control frame longer than 125 bytes.');
        if (!this.fin) return this.fail('Control frames must not be fragmented.');
      }
      this.parseState = this.length === 126 ? ParseState.Length16 : this.length === 127 ? ParseState.Length64 : ParseState.MaskKey;
      if (this.parseState === ParseState.MaskKey && this.tooLarge()) return true;
    }
    if (this.parseState === ParseState.Length16) {
      if (queue.length < 2) return false;
      this.length = queue.take(2).readUInt16BE(0);
      this.parseState = ParseState.MaskKey;
      if (this.tooLarge()) return true;
    }
    if (this.parseState === ParseState.Length64) {
      if (queue.length < 8) return false;
      const bytes = queue.take(8);
      const high = bytes.readUInt32BE(0);
      // §5.2: the most significant bit of a 64-bit length must be 0.
      if (high & 0x80000000) return this.fail('Invalid 64-bit frame length (most significant bit set).');
      this.length = high * 0x100000000 + bytes.readUInt32BE(4);
      this.parseState = ParseState.MaskKey;
      if (this.tooLarge()) return true;
    }
    if (this.parseState === ParseState.MaskKey) {
      if (this.mask) {
        if (queue.length < 4) return false;
        queue.take(4).copy(this.maskBytes);
      }
      this.parseState = ParseState.Payload;
    }
    if (this.parseState === ParseState.Payload) {
      if (queue.length < this.length) return false;
      // Copied out of the queue: the received chunks are not kept alive by a payload, and unmasking writes in place.
      const payload = Buffer.from(queue.take(this.length));
      if (this.mask) unmask(payload, this.maskBytes);
      this.binaryPayload = payload;
      if (this.opcode === WebSocketFrame.CONNECTION_CLOSE) {
        if (payload.length === 1) {
          this.invalidCloseFrameLength = true;
          this.binaryPayload = EMPTY;
        } else if (payload.length >= 2) {
          this.closeStatus = payload.readUInt16BE(0);
          this.binaryPayload = payload.subarray(2);
        }
      }
      this.parseState = ParseState.Complete;
      return true;
    }
    return this.parseState === ParseState.Complete;
  }

  /** Skips the payload of a frame whose header was read (WebSocket-Node's name; the connection drops such frames). */
  throwAwayPayload(queue: ByteQueue): boolean {
    if (queue.length < this.length) return false;
    queue.take(this.length);
    this.parseState = ParseState.Complete;
    return true;
  }

  /** The frame as bytes on the wire; a masked frame gets a random key, or a zero key with `nullMask`. */
  toBuffer(nullMask?: boolean): Buffer {
    let payload = this.binaryPayload ?? EMPTY;
    if (this.opcode === WebSocketFrame.CONNECTION_CLOSE && this.closeStatus !== -1) {
      const withStatus = Buffer.allocUnsafe(2 + payload.length);
      withStatus.writeUInt16BE(this.closeStatus, 0);
      payload.copy(withStatus, 2);
      payload = withStatus;
    }
    this.length = payload.length;
    const lengthBytes = payload.length > 0xffff ? 8 : payload.length > 125 ? 2 : 0;
    const headerLength = 2 + lengthBytes + (this.mask ? 4 : 0);
    const out = Buffer.allocUnsafe(headerLength + payload.length);
    out[0] = (this.fin ? 0x80 : 0) | (this.rsv1 ? 0x40 : 0) | (this.rsv2 ? 0x20 : 0) | (this.rsv3 ? 0x10 : 0) | (this.opcode & 0x0f);
    const maskBit = this.mask ? 0x80 : 0;
    if (lengthBytes === 0) {
      out[1] = maskBit | payload.length;
    } else if (lengthBytes === 2) {
      out[1] = maskBit | 126;
      out.writeUInt16BE(payload.length, 2);
    } else {
      out[1] = maskBit | 127;
      out.writeUInt32BE(Math.floor(payload.length / 0x100000000), 2);
      out.writeUInt32BE(payload.length >>> 0, 6);
    }
    payload.copy(out, headerLength);
    if (this.mask) {
      const key = nullMask ? Buffer.alloc(4) : randomBytes(4);
      key.copy(out, 2 + lengthBytes);
      unmask(out.subarray(headerLength), key);
    }
    return out;
  }

  toString(): string {
    return `Opcode: ${this.opcode}, fin: ${this.fin}, length: ${this.length}, hasPayload: ${this.binaryPayload.length > 0}, masked: ${this.mask}`;
  }

  private fail(reason: string): true {
    this.protocolError = true;
    this.dropReason = reason;
    return true;
  }

  private tooLarge(): boolean {
    const max = this.config.maxReceivedFrameSize;
    if (max === undefined || this.length <= max) return false;
    this.frameTooLarge = true;
    this.dropReason = `Frame size of ${this.length} bytes exceeds maximum accepted frame size`;
    return true;
  }
}

/** XORs `data` with the 4-byte `key` in place (masking and unmasking are the same operation). */
function unmask(data: Buffer, key: Buffer): void {
  for (let i = 0; i < data.length; i++) data[i] ^= key[i & 3];
}
