// An accepted WebSocket connection (WebSocket-Node's `WebSocketConnection`, the object Unit's module hands to apps):
// it parses the peer's frames from the upgraded socket, assembles messages, answers pings, runs the close handshake
// and the keepalive, and frames what the app sends. It works on any Duplex: node:http's net.Socket, or the socket
// Warden's runtime passes with 'upgrade' (which may lack net.Socket's setNoDelay/setKeepAlive: they are optional).
import { EventEmitter } from 'events';
import type { Socket } from 'net';
import type { Duplex } from 'stream';
import { ByteQueue } from './byte-queue';
import type { ResolvedConfig } from './config';
import { WebSocketFrame } from './frame';

/** The socket of an upgraded request: a Duplex with whatever of net.Socket's extras it has. */
export type UpgradedSocket = Duplex & Partial<Pick<Socket, 'setNoDelay' | 'setTimeout' | 'setKeepAlive' | 'remoteAddress'>>;

/** 'open'; 'peer_requested_close' (the peer sent close); 'ending' (we sent close); 'closed'. */
export type ConnectionState = 'open' | 'peer_requested_close' | 'ending' | 'closed';

/** What a 'message' event carries. */
export type WebSocketMessage = { type: 'utf8'; utf8Data: string } | { type: 'binary'; binaryData: Buffer };

/** A send callback: called once the data was handed to the socket, or with the error that prevented it. */
export type SendCallback = (err?: Error | null) => void;

/** Close codes an endpoint may send (RFC 6455 §7.4): the defined ones, and 3000-4999 for libraries and apps. */
function isValidCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014].includes(code);
}

/** Decodes UTF-8, throwing on invalid input (a byte order mark is kept, as Buffer#toString keeps it). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function decodeUtf8(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Received frames are not held to `maxReceivedFrameSize`, as in Unit, whose module leaves a frame's size to the router:
 * wardend's router closes a connection whose client sends a frame over `settings.http.websocket.max_frame_size` (1 MiB
 * by default) with 1009 before the app sees it. `maxReceivedMessageSize` bounds a message assembled from fragments.
 */
const RECEIVED_FRAMES = {};

/** A WebSocket connection on the server side of an upgraded socket. */
export class WebSocketConnection extends EventEmitter {
  static readonly CLOSE_REASON_NORMAL = 1000;
  static readonly CLOSE_REASON_GOING_AWAY = 1001;
  static readonly CLOSE_REASON_PROTOCOL_ERROR = 1002;
  static readonly CLOSE_REASON_UNPROCESSABLE_INPUT = 1003;
  /** Reserved, no meaning. */
  static readonly CLOSE_REASON_RESERVED = 1004;
  /** Reported when a close frame carries no code; never sent. */
  static readonly CLOSE_REASON_NOT_PROVIDED = 1005;
  /** Reported when the connection ends without a close frame; never sent. */
  static readonly CLOSE_REASON_ABNORMAL = 1006;
  static readonly CLOSE_REASON_INVALID_DATA = 1007;
  static readonly CLOSE_REASON_POLICY_VIOLATION = 1008;
  static readonly CLOSE_REASON_MESSAGE_TOO_BIG = 1009;
  static readonly CLOSE_REASON_EXTENSION_REQUIRED = 1010;
  static readonly CLOSE_REASON_INTERNAL_SERVER_ERROR = 1011;
  /** Reported when TLS fails; never sent. */
  static readonly CLOSE_REASON_TLS_HANDSHAKE_FAILED = 1015;

  /** The default description of each close code (WebSocket-Node's texts). */
  static readonly CLOSE_DESCRIPTIONS: Readonly<Record<number, string>> = {
    1000: 'Normal connection closure',
    1001: 'Remote peer is going away',
    1002: 'Protocol error',
    1003: 'Unprocessable input',
    1004: 'Reserved',
    1005: 'Reason not provided',
    1006: 'Abnormal closure, no further detail available',
    1007: 'Invalid data received',
    1008: 'Policy violation',
    1009: 'Message too big',
    1010: 'Extension requested by client is required',
    1011: 'Internal Server Error',
    1015: 'TLS Handshake Failed',
  };

  readonly socket: UpgradedSocket;
  readonly config: ResolvedConfig;
  /** The subprotocol accepted, or null/undefined for none. */
  protocol: string | null | undefined;
  /** Negotiated extensions: always empty (none is supported). */
  extensions: unknown[];
  remoteAddress: string | undefined;
  remoteAddresses: (string | undefined)[];
  webSocketVersion = 13;
  /** The close code: ours when we closed or dropped, the peer's when it closed, 1006 when the socket went away. */
  closeReasonCode = -1;
  closeDescription: string | null = null;
  closeEventEmitted = false;
  /** Whether outgoing frames are masked: false on the server (only clients mask). */
  maskOutgoingPackets: boolean;
  /** True while messages may be sent. */
  connected = true;
  state: ConnectionState = 'open';
  /** Set after our close frame was sent, until the peer's answer (or `closeTimeout`). */
  waitingForCloseResponse = false;
  /** Set once the peer ended its side of the socket. */
  receivedEnd = false;
  /** Set when the last write found the socket's buffer full; cleared on 'drain'. */
  outputBufferFull = false;
  inputPaused = false;
  closeTimeout: number;
  assembleFragments: boolean;
  maxReceivedMessageSize: number;
  /** Frames of the fragmented message being received, and their total size. */
  frameQueue: WebSocketFrame[] = [];
  fragmentationSize = 0;

  private readonly received = new ByteQueue();
  private currentFrame: WebSocketFrame;
  private closeFrameSent = false;
  private closeTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private gracePeriodTimer: NodeJS.Timeout | null = null;
  private destroyTimer: NodeJS.Timeout | null = null;

  constructor(socket: UpgradedSocket, extensions: unknown[], protocol: string | null | undefined, maskOutgoingPackets: boolean, config: ResolvedConfig) {
    super();
    this.socket = socket;
    this.config = config;
    this.protocol = protocol;
    this.extensions = extensions;
    this.remoteAddress = socket.remoteAddress;
    this.remoteAddresses = [this.remoteAddress];
    this.maskOutgoingPackets = maskOutgoingPackets;
    this.closeTimeout = config.closeTimeout;
    this.assembleFragments = config.assembleFragments;
    this.maxReceivedMessageSize = config.maxReceivedMessageSize;
    this.currentFrame = new WebSocketFrame(undefined, undefined, RECEIVED_FRAMES);

    socket.setNoDelay?.(config.disableNagleAlgorithm);
    // node:http leaves its request timeout on the socket; a WebSocket may stay idle for as long as it likes.
    socket.setTimeout?.(0);

    if (config.keepalive && !config.useNativeKeepalive) {
      if (typeof config.keepaliveInterval !== 'number') throw new Error('keepaliveInterval must be specified and numeric if keepalive is true.');
      if (config.dropConnectionOnKeepaliveTimeout && typeof config.keepaliveGracePeriod !== 'number') {
        throw new Error('keepaliveGracePeriod must be specified and numeric if dropConnectionOnKeepaliveTimeout is true.');
      }
      this.setKeepaliveTimer();
    } else if (config.keepalive) {
      // TCP keepalive; a socket without it (Warden's channel socket: the router keeps the client connection) skips it.
      socket.setKeepAlive?.(true, config.keepaliveInterval);
    }
  }

  /**
   * Starts reading the socket, `initial` (bytes received before the accept) first. Called by
   * `WebSocketRequest.accept()`; not for apps.
   */
  _addSocketEventListeners(initial?: Buffer): void {
    const socket = this.socket;
    socket.on('error', (err: Error) => this.handleSocketError(err));
    socket.on('end', () => this.handleSocketEnd());
    socket.on('close', () => this.handleSocketClose());
    socket.on('drain', () => this.handleSocketDrain());
    socket.on('pause', () => this.emit('pause'));
    socket.on('resume', () => this.emit('resume'));
    if (initial && initial.length > 0) {
      this.received.push(initial);
      // After accept() returned: the app attaches its 'message' listener to the connection accept() gives it.
      process.nextTick(() => this.processReceivedData());
    }
    socket.on('data', (chunk: Buffer) => this.handleSocketData(chunk));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Receiving

  private handleSocketData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.setKeepaliveTimer();
    this.received.push(chunk);
    this.processReceivedData();
  }

  /** Parses and handles every complete frame received, until input is paused or the connection closed. */
  private processReceivedData(): void {
    while ((this.state === 'open' || this.state === 'ending') && !this.inputPaused) {
      const frame = this.currentFrame;
      if (!frame.addData(this.received)) return;
      this.currentFrame = new WebSocketFrame(undefined, undefined, RECEIVED_FRAMES);
      if (frame.protocolError) return this.drop(WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR, frame.dropReason);
      if (frame.rsv1 || frame.rsv2 || frame.rsv3) {
        // No extension is negotiated, so no RSV bit may be set (RFC 6455 §5.2).
        return this.drop(WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR, 'Unsupported usage of rsv bits without negotiated extension.');
      }
      if (frame.mask === this.maskOutgoingPackets) {
        // §5.1: a client masks every frame it sends, a server none.
        return this.drop(
          WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR,
          frame.mask ? 'Received a masked frame from the server.' : 'Received an unmasked frame from the client.',
        );
      }
      if (!this.assembleFragments) this.emit('frame', frame);
      this.processFrame(frame);
    }
  }

  private processFrame(frame: WebSocketFrame): void {
    if (this.state === 'ending') {
      // We sent close: only the peer's close matters now (§5.5.1: data after a close frame is discarded).
      if (frame.opcode === WebSocketFrame.CONNECTION_CLOSE) this.handleCloseResponse();
      return;
    }
    const { opcode } = frame;
    if (this.frameQueue.length > 0 && opcode >= 0x01 && opcode <= 0x07) {
      return this.drop(
        WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR,
        `Illegal frame opcode 0x${opcode.toString(16)} received in middle of fragmented message.`,
      );
    }
    switch (opcode) {
      case WebSocketFrame.TEXT_FRAME:
      case WebSocketFrame.BINARY_FRAME:
        if (!this.assembleFragments) return;
        if (frame.fin) return this.emitMessage(opcode, frame.binaryPayload);
        this.frameQueue.push(frame);
        this.fragmentationSize = frame.length;
        return;
      case WebSocketFrame.CONTINUATION: {
        if (!this.assembleFragments) return;
        if (this.frameQueue.length === 0) return this.drop(WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR, 'Unexpected Continuation Frame');
        this.fragmentationSize += frame.length;
        if (this.fragmentationSize > this.maxReceivedMessageSize)
          return this.drop(WebSocketConnection.CLOSE_REASON_MESSAGE_TOO_BIG, 'Maximum message size exceeded.');
        this.frameQueue.push(frame);
        if (!frame.fin) return;
        const first = this.frameQueue[0]!.opcode;
        const payload = Buffer.concat(
          this.frameQueue.map((f) => f.binaryPayload),
          this.fragmentationSize,
        );
        this.frameQueue = [];
        this.fragmentationSize = 0;
        return this.emitMessage(first, payload);
      }
      case WebSocketFrame.PING: {
        let cancelled = false;
        // A 'ping' listener may cancel the automatic pong (WebSocket-Node's API).
        this.emit('ping', () => (cancelled = true), frame.binaryPayload);
        if (!cancelled && this.state === 'open') this.pong(frame.binaryPayload);
        return;
      }
      case WebSocketFrame.PONG:
        this.emit('pong', frame.binaryPayload);
        return;
      case WebSocketFrame.CONNECTION_CLOSE:
        return this.handlePeerClose(frame);
      default:
        return this.drop(WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR, `Unrecognized Opcode: 0x${opcode.toString(16)}`);
    }
  }

  private emitMessage(opcode: number, payload: Buffer): void {
    if (opcode === WebSocketFrame.BINARY_FRAME) {
      this.emit('message', { type: 'binary', binaryData: payload } satisfies WebSocketMessage);
      return;
    }
    const text = decodeUtf8(payload);
    if (text === null) return this.drop(WebSocketConnection.CLOSE_REASON_INVALID_DATA, 'Invalid UTF-8 Data Received');
    this.emit('message', { type: 'utf8', utf8Data: text } satisfies WebSocketMessage);
  }

  /** The peer starts the close handshake: answer with its code (1002 for an invalid one), then end the socket. */
  private handlePeerClose(frame: WebSocketFrame): void {
    this.state = 'peer_requested_close';
    this.connected = false;
    let answer: number | undefined;
    if (frame.invalidCloseFrameLength) {
      this.closeReasonCode = WebSocketConnection.CLOSE_REASON_NOT_PROVIDED;
      answer = WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR;
    } else if (frame.closeStatus === -1) {
      this.closeReasonCode = WebSocketConnection.CLOSE_REASON_NOT_PROVIDED;
      answer = WebSocketConnection.CLOSE_REASON_NORMAL;
    } else {
      // Answered with 1000 whatever valid code the peer gave, as Unit's module (and WebSocket-Node) answer.
      this.closeReasonCode = frame.closeStatus;
      answer = isValidCloseCode(frame.closeStatus) ? WebSocketConnection.CLOSE_REASON_NORMAL : WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR;
    }
    if (frame.binaryPayload.length > 0) {
      const reason = decodeUtf8(frame.binaryPayload);
      if (reason === null) return this.drop(WebSocketConnection.CLOSE_REASON_INVALID_DATA, 'Invalid UTF-8 Data Received');
      this.closeDescription = reason;
    } else {
      this.closeDescription = WebSocketConnection.CLOSE_DESCRIPTIONS[this.closeReasonCode] ?? null;
    }
    this.sendCloseFrame(answer);
    // §7.1.1: the server closes the TCP connection first. 'close' is emitted when the socket has closed.
    this.endSocket();
  }

  /** The peer answered our close: the handshake is complete. */
  private handleCloseResponse(): void {
    this.clearCloseTimer();
    this.state = 'closed';
    this.endSocket();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Socket events

  private handleSocketError(err: Error & { syscall?: string; code?: string }): void {
    if (this.state === 'closed') return;
    this.closeReasonCode = WebSocketConnection.CLOSE_REASON_ABNORMAL;
    this.closeDescription = `Socket Error: ${err.syscall} ${err.code}`;
    this.connected = false;
    this.state = 'closed';
    this.frameQueue = [];
    this.fragmentationSize = 0;
    if (this.listenerCount('error') > 0) this.emit('error', err);
    this.socket.destroy();
  }

  private handleSocketEnd(): void {
    this.receivedEnd = true;
    // The peer ended its side (after its close frame, or without one): end ours, so that the socket closes.
    if (!this.socket.writableEnded) this.socket.end();
  }

  private handleSocketClose(): void {
    this.connected = false;
    this.state = 'closed';
    if (this.closeReasonCode === -1) {
      this.closeReasonCode = WebSocketConnection.CLOSE_REASON_ABNORMAL;
      this.closeDescription = 'Connection dropped by remote peer.';
    }
    this.clearTimers();
    if (this.destroyTimer !== null) clearTimeout(this.destroyTimer);
    this.destroyTimer = null;
    this.emitClose();
  }

  private handleSocketDrain(): void {
    this.outputBufferFull = false;
    this.emit('drain');
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Closing

  /** Starts the close handshake: sends a close frame, then waits up to `closeTimeout` ms for the peer's. */
  close(reasonCode: number = WebSocketConnection.CLOSE_REASON_NORMAL, description?: string): void {
    if (!this.connected) return;
    if (typeof reasonCode !== 'number') reasonCode = WebSocketConnection.CLOSE_REASON_NORMAL;
    if (!isValidCloseCode(reasonCode)) throw new Error(`Close code ${reasonCode} is not valid.`);
    this.closeReasonCode = reasonCode;
    this.closeDescription = typeof description === 'string' ? description : (WebSocketConnection.CLOSE_DESCRIPTIONS[reasonCode] ?? null);
    this.clearTimers();
    this.setCloseTimer();
    this.sendCloseFrame(reasonCode, this.closeDescription ?? undefined);
    this.state = 'ending';
    this.connected = false;
  }

  /**
   * Closes at once: sends a close frame with `reasonCode` (unless `skipCloseFrame`), emits 'close' and ends the
   * socket without waiting for the peer.
   */
  drop(reasonCode: number = WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR, description?: string, skipCloseFrame?: boolean): void {
    if (typeof reasonCode !== 'number') reasonCode = WebSocketConnection.CLOSE_REASON_PROTOCOL_ERROR;
    if (typeof description !== 'string') description = WebSocketConnection.CLOSE_DESCRIPTIONS[reasonCode];
    this.closeReasonCode = reasonCode;
    this.closeDescription = description ?? null;
    this.frameQueue = [];
    this.fragmentationSize = 0;
    this.received.clear();
    if (!skipCloseFrame) this.sendCloseFrame(reasonCode, description);
    this.connected = false;
    this.state = 'closed';
    this.clearTimers();
    this.emitClose();
    if (skipCloseFrame) this.socket.destroy();
    else this.endSocket(); // ends after the close frame went out
  }

  private emitClose(): void {
    if (this.closeEventEmitted) return;
    this.closeEventEmitted = true;
    this.emit('close', this.closeReasonCode, this.closeDescription);
  }

  /** Sends one close frame per connection: with `reasonCode` and `description`, or empty without a code. */
  private sendCloseFrame(reasonCode: number | undefined, description?: string, cb?: SendCallback): void {
    if (this.closeFrameSent) return;
    this.closeFrameSent = true;
    const frame = new WebSocketFrame();
    frame.fin = true;
    frame.opcode = WebSocketFrame.CONNECTION_CLOSE;
    if (reasonCode !== undefined) {
      frame.closeStatus = reasonCode;
      // A control frame carries 125 bytes at most: the code and 123 bytes of reason.
      if (description) frame.binaryPayload = truncateUtf8(description, 123);
    }
    this.sendFrame(frame, cb);
  }

  /** Ends our side of the socket; destroys it if the peer has not closed its side within `closeTimeout`. */
  private endSocket(): void {
    if (!this.socket.writableEnded) this.socket.end();
    if (this.destroyTimer === null && !this.socket.destroyed) {
      this.destroyTimer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
      this.destroyTimer.unref();
    }
  }

  private setCloseTimer(): void {
    this.clearCloseTimer();
    this.waitingForCloseResponse = true;
    this.closeTimer = setTimeout(() => this.handleCloseTimer(), this.closeTimeout);
  }

  private clearCloseTimer(): void {
    if (this.closeTimer !== null) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.waitingForCloseResponse = false;
  }

  /** The peer did not answer our close within `closeTimeout`: give up on it. */
  private handleCloseTimer(): void {
    this.closeTimer = null;
    if (!this.waitingForCloseResponse) return;
    this.waitingForCloseResponse = false;
    this.state = 'closed';
    this.socket.destroy();
  }

  private clearTimers(): void {
    this.clearCloseTimer();
    if (this.keepaliveTimer !== null) clearTimeout(this.keepaliveTimer);
    if (this.gracePeriodTimer !== null) clearTimeout(this.gracePeriodTimer);
    this.keepaliveTimer = this.gracePeriodTimer = null;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Keepalive: a ping after `keepaliveInterval` ms without received data; no data within the grace period drops.

  private setKeepaliveTimer(): void {
    if (!this.config.keepalive || this.config.useNativeKeepalive || this.state === 'closed') return;
    if (this.keepaliveTimer !== null) clearTimeout(this.keepaliveTimer);
    if (this.gracePeriodTimer !== null) clearTimeout(this.gracePeriodTimer);
    this.gracePeriodTimer = null;
    this.keepaliveTimer = setTimeout(() => this.handleKeepaliveTimer(), this.config.keepaliveInterval);
  }

  private handleKeepaliveTimer(): void {
    this.keepaliveTimer = null;
    if (this.state !== 'open') return;
    this.ping();
    if (this.config.dropConnectionOnKeepaliveTimeout) {
      this.gracePeriodTimer = setTimeout(() => {
        this.gracePeriodTimer = null;
        this.drop(WebSocketConnection.CLOSE_REASON_ABNORMAL, 'Peer not responding.', true);
      }, this.config.keepaliveGracePeriod);
    } else {
      this.setKeepaliveTimer();
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Sending

  /** Sends a Buffer as a binary message, anything else (its `toString()`) as a text message. */
  send(data: unknown, cb?: SendCallback): void {
    if (Buffer.isBuffer(data)) this.sendBytes(data, cb);
    else if (data !== null && data !== undefined && typeof (data as { toString?: unknown }).toString === 'function') this.sendUTF(data, cb);
    else throw new Error('Data provided must either be a Node Buffer or implement toString()');
  }

  /** Sends `data.toString()` as a text message. */
  sendUTF(data: unknown, cb?: SendCallback): void {
    const frame = new WebSocketFrame();
    frame.opcode = WebSocketFrame.TEXT_FRAME;
    frame.binaryPayload = Buffer.from(String(data), 'utf8');
    this.fragmentAndSend(frame, cb);
  }

  /** Sends a Buffer as a binary message. */
  sendBytes(data: Buffer, cb?: SendCallback): void {
    if (!Buffer.isBuffer(data)) throw new Error('You must pass a Node Buffer object to WebSocketConnection.prototype.sendBytes()');
    const frame = new WebSocketFrame();
    frame.opcode = WebSocketFrame.BINARY_FRAME;
    frame.binaryPayload = data;
    this.fragmentAndSend(frame, cb);
  }

  /** Sends a ping; data longer than a control frame allows is truncated. */
  ping(data?: unknown): void {
    const frame = new WebSocketFrame();
    frame.opcode = WebSocketFrame.PING;
    frame.fin = true;
    if (data !== undefined && data !== null && data !== '') {
      const bytes = Buffer.isBuffer(data) ? data : Buffer.from(String(data), 'utf8');
      frame.binaryPayload = bytes.subarray(0, 125);
    }
    this.sendFrame(frame);
  }

  /** Sends a pong (a ping's answer carries the ping's payload). */
  pong(binaryPayload?: Buffer): void {
    const frame = new WebSocketFrame();
    frame.opcode = WebSocketFrame.PONG;
    frame.fin = true;
    if (binaryPayload) frame.binaryPayload = binaryPayload.subarray(0, 125);
    this.sendFrame(frame);
  }

  /** Sends a data frame, split into `fragmentationThreshold`-sized frames when `fragmentOutgoingMessages` is on. */
  fragmentAndSend(frame: WebSocketFrame, cb?: SendCallback): void {
    if (frame.opcode > 0x07) throw new Error('You cannot fragment control frames.');
    const threshold = this.config.fragmentationThreshold;
    const payload = frame.binaryPayload;
    if (!this.config.fragmentOutgoingMessages || payload.length <= threshold || !(threshold > 0)) {
      frame.fin = true;
      this.sendFrame(frame, cb);
      return;
    }
    const count = Math.ceil(payload.length / threshold);
    let sent = 0;
    let failed = false;
    const onSent: SendCallback = (err) => {
      if (failed) return;
      if (err) {
        failed = true;
        cb?.(err);
      } else if (++sent === count) {
        cb?.();
      }
    };
    for (let i = 0; i < count; i++) {
      const fragment = new WebSocketFrame();
      fragment.opcode = i === 0 ? frame.opcode : WebSocketFrame.CONTINUATION;
      fragment.fin = i === count - 1;
      fragment.binaryPayload = payload.subarray(i * threshold, (i + 1) * threshold);
      this.sendFrame(fragment, onSent);
    }
  }

  /** Writes one frame to the socket; returns false when the socket's buffer is full (wait for 'drain'). */
  sendFrame(frame: WebSocketFrame, cb?: SendCallback): boolean {
    frame.mask = this.maskOutgoingPackets;
    if (this.socket.destroyed || this.socket.writableEnded || (this.closeFrameSent && frame.opcode !== WebSocketFrame.CONNECTION_CLOSE)) {
      // Nothing may follow a close frame (RFC 6455 §5.5.1), and writing to an ended socket would raise 'error' on
      // it: the sender learns it through its callback instead.
      if (cb) process.nextTick(cb, new Error('The WebSocket connection is closed.'));
      return false;
    }
    const flushed = this.socket.write(frame.toBuffer(), cb);
    this.outputBufferFull = !flushed;
    return flushed;
  }

  /** Stops reading from the socket ('message' events wait). */
  pause(): void {
    this.inputPaused = true;
    this.socket.pause();
  }

  /** Reads again, first what arrived before `pause()`. */
  resume(): void {
    this.inputPaused = false;
    this.socket.resume();
    this.processReceivedData();
  }
}

/** `text` as UTF-8, cut to at most `max` bytes without splitting a character. */
function truncateUtf8(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
