/** What the router sends to the app for one request (one REQUEST frame). */
export interface RequestHead {
  /** Request method as received, e.g. "GET". */
  method: string;
  /** Request-target as received ("/a?b=c"). */
  target: string;
  /** "1.1", "1.0", "2.0". */
  httpVersion: string;
  /** Flat [name, value, name, value, ...] like IncomingMessage.rawHeaders (latin1). */
  headers: string[];
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** The client connection is TLS. */
  tls: boolean;
  /** Body length; -1 = unknown (chunked). */
  contentLength: number;
}

/** The part of a pino logger this package uses (a pino.Logger fits). */
export interface ShmLogger {
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
