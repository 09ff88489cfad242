// The settings of a WebSocket server (WebSocket-Node's `WebSocketServer` config, which Unit's module takes too), with
// their defaults. The server resolves them once in `mount()`; each request and connection reads the same object.
import type { EventEmitter } from 'events';

/** What `new server(config)` / `mount(config)` accept: `httpServer` is required, the rest default as below. */
export interface WebSocketServerConfig {
  /** The http server(s) whose 'upgrade' event this server handles. */
  httpServer: EventEmitter | EventEmitter[];
  /**
   * Accepted and kept, not applied to received frames: as in Unit, a frame's size is the router's to limit
   * (`settings.http.websocket.max_frame_size`). A standalone `frame` given it in its config still reports `frameTooLarge`.
   */
  maxReceivedFrameSize: number;
  /** Largest assembled (fragmented) message accepted; a longer one closes the connection with 1009. */
  maxReceivedMessageSize: number;
  /** Whether outgoing messages longer than `fragmentationThreshold` are sent as several frames. */
  fragmentOutgoingMessages: boolean;
  fragmentationThreshold: number;
  /** Whether fragments are assembled into 'message' events; when false every frame is emitted as 'frame'. */
  assembleFragments: boolean;
  /** Accept every request with the first protocol it asks for, instead of emitting 'request'. */
  autoAcceptConnections: boolean;
  /** Ignore X-Forwarded-For when computing `remoteAddress` (set it when no trusted proxy adds the header). */
  ignoreXForwardedFor: boolean;
  disableNagleAlgorithm: boolean;
  /** Milliseconds to wait for the peer's close frame after sending ours before ending the socket. */
  closeTimeout: number;
  /**
   * Send a ping after `keepaliveInterval` ms without any received data. Off by default: Unit's module has no keepalive
   * of its own (its router pings, as wardend's does, every `settings.http.websocket.keepalive_interval`); an app that
   * sets it gets WebSocket-Node's.
   */
  keepalive: boolean;
  keepaliveInterval: number;
  /** Drop the connection when nothing arrives within `keepaliveGracePeriod` ms of a keepalive ping. */
  dropConnectionOnKeepaliveTimeout: boolean;
  keepaliveGracePeriod: number;
  /** Use TCP keepalive (`socket.setKeepAlive`) instead of WebSocket pings. */
  useNativeKeepalive: boolean;
}

/** A resolved config: every key set, `httpServer` always an array. */
export interface ResolvedConfig extends WebSocketServerConfig {
  httpServer: EventEmitter[];
}

/** WebSocket-Node's defaults (its documentation lists the same values), except `keepalive`: off, as in Unit. */
export const DEFAULT_CONFIG: Omit<WebSocketServerConfig, 'httpServer'> = {
  maxReceivedFrameSize: 0x10000,
  maxReceivedMessageSize: 0x100000,
  fragmentOutgoingMessages: true,
  fragmentationThreshold: 0x4000,
  assembleFragments: true,
  autoAcceptConnections: false,
  ignoreXForwardedFor: false,
  disableNagleAlgorithm: true,
  closeTimeout: 5000,
  keepalive: false,
  keepaliveInterval: 20000,
  dropConnectionOnKeepaliveTimeout: true,
  keepaliveGracePeriod: 10000,
  useNativeKeepalive: false,
};
