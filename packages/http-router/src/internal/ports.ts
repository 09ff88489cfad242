import type { IncomingMessage, ServerResponse } from 'http';
import type { Socket } from 'net';

/** Connection facts handed to the gateway with every request. Treat as read-only: one object may serve a connection. */
export interface RequestInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  scheme: 'http' | 'https';
}

/** Where `pass: "applications/<app>[/<target>]"` requests go. */
export interface ApplicationGateway {
  /** Serve one request with application `app` (optional `target` from `applications/<app>/<target>`). Must answer res. */
  handle(app: string, target: string | undefined, req: IncomingMessage, res: ServerResponse, info: RequestInfo): void;
  /**
   * Optional lean path: serve one request the router parsed itself (no IncomingMessage/ServerResponse). Must answer
   * through `ex` (respond + write/end, or fail). A gateway without it gets every request through `handle`.
   */
  handleLean?(app: string, target: string | undefined, ex: LeanExchange): void;
}

/**
 * One request on the router's lean HTTP/1.1 path: the parsed head, and the calls that answer it. After the response
 * completed (write with `last`, end, fail) or `onAbort` came, further calls are ignored.
 */
export interface LeanExchange {
  /** Method as received (one of GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH). */
  readonly method: string;
  /** Origin-form request target as received ("/a?b=c"). */
  readonly target: string;
  /** '1.1' or '1.0'. */
  readonly httpVersion: string;
  /** Flat [name, value, ...] as received (latin1), like IncomingMessage.rawHeaders. */
  readonly rawHeaders: string[];
  /** Request body length from Content-Length; 0 = no body (this path never sees chunked request bodies). */
  readonly contentLength: number;
  /** Connection facts (shared by the requests of one connection: read-only). */
  readonly info: RequestInfo;
  /** Registers the receiver of the request body and of connection events; once. Body bytes that came before are delivered now. */
  attach(handler: LeanHandler): void;
  /** Reading the request body goes on after `onBody` returned false. */
  resumeBody(): void;
  /**
   * Sets the response head; false when HTTP forbids it (status, field name or value, reason phrase): nothing is
   * sent, call fail(). `reason`: the app's reason phrase (default: node:http's); `http10`: an HTTP/1.0 status line.
   */
  respond(status: number, headers: string[], reason?: string, http10?: boolean): boolean;
  /** Response body bytes; `last` completes the response. False: the client is slow, wait for `onWritable`. */
  write(chunk: Buffer, last: boolean): boolean;
  /**
   * As write, with a chunk valid only during the call (a view of a shared-memory ring the caller reuses once this
   * returns): it goes to the client's socket at once when the socket takes it, and only what must wait is copied.
   */
  writeView(view: Buffer, last: boolean): boolean;
  /** Completes the response. */
  end(): void;
  /** Answers `status` with the error page if nothing was sent yet, else drops the connection. */
  fail(status: number): void;
  /** Drops the client connection now, with no (further) response: the app reset it (node's `res.destroy()`). */
  reset(): void;
  /**
   * The client connection's socket: the same object for every request of one keep-alive connection (a TLS socket for
   * https); its 'close' is the connection's end. For identity and close only: the exchange does the I/O.
   */
  readonly socket: Socket;
  /**
   * Response trailers (flat [name, value, ...]), sent after the body when the response is chunked (as node:http's
   * `addTrailers`: dropped otherwise, and so are fields HTTP forbids). Call before end() / the last write.
   */
  trailers(headers: string[]): void;
  /**
   * Sends a 1xx response (103 Early Hints, 102 ...; not 101) before the final head: status line, fields, empty line.
   * Ignored once the final head is out, for an HTTP/1.0 client (RFC 9110 15.2) and when a field is not valid.
   */
  informational(status: number, headers: string[]): void;
  /**
   * Present only on an upgrade request the exchange can tunnel (see TunnelExchange). Called before `attach` when the
   * request goes to an app with the UPGRADE flag: the client's bytes after the head become the request body (body
   * length unknown; the body ends when the client closes its sending side); `respond(101, ...)` then writes the 101
   * head to the client, after which `write` carries bytes of the new protocol, `end` half-closes the connection, and
   * `onAbort` comes when the connection closed.
   */
  startTunnel?(): void;
}

/** What the gateway gives a LeanExchange to receive the request body and connection events. */
export interface LeanHandler {
  /** A request body chunk; return false to stop reading the client until `resumeBody()`. */
  onBody(chunk: Buffer): boolean;
  /**
   * Optional: as onBody, with a chunk valid only during the call (a view of the buffer the router reads every client
   * socket into, overwritten by the next read): the handler copies what it keeps past the call. `last`: the body ends
   * with it (`onBodyEnd` still follows). When absent, such chunks are copied for `onBody`.
   */
  onBodyView?(view: Buffer, last: boolean): boolean;
  /** The request body is complete. */
  onBodyEnd(): void;
  /** The client takes response bytes again after `write` returned false. */
  onWritable(): void;
  /** The client went away (or timed out) before the response completed. */
  onAbort(): void;
}

/** The pino-compatible subset the router logs with. */
export interface RouterLogger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
}

/** What a listener is bound to, as a {@link ListenerHost} gets it. */
export interface ListenSpec {
  /** Canonical bind key (`0.0.0.0:8080`, `[::1]:8080`, `unix:/run/a.sock`): the same listener always has the same key. */
  key: string;
  host: string;
  port: number;
  ipv6Only: boolean;
  /** Unix socket path (`unix:/path`; abstract names start with NUL), or null for an IP listener. */
  path: string | null;
  /** listen(2) backlog; undefined: the default (511). */
  backlog: number | undefined;
}

/**
 * Opens what a router may not open itself. wardend's router processes run unprivileged: the privileged main process
 * binds each listener (ports below 1024, the "address in use" check of a transactional apply) and opens the access
 * log, and hands the fds over. Without a host, the router binds and opens by itself.
 */
export interface ListenerHost {
  /** An fd of a bound, listening socket for `l`; the router accepts on it (and closes its fd when it stops). Rejects with the bind error. */
  listen(l: ListenSpec): Promise<number>;
  /** An fd of `path` opened for appending (the access log); rejects with the open error. */
  openAppend(path: string): Promise<number>;
}
