import type { IncomingMessage, ServerResponse } from 'http';

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
  /** Completes the response. */
  end(): void;
  /** Answers `status` with the error page if nothing was sent yet, else drops the connection. */
  fail(status: number): void;
  /** Drops the client connection now, with no (further) response: the app reset it (node's `res.destroy()`). */
  reset(): void;
}

/** What the gateway gives a LeanExchange to receive the request body and connection events. */
export interface LeanHandler {
  /** A request body chunk; return false to stop reading the client until `resumeBody()`. */
  onBody(chunk: Buffer): boolean;
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
