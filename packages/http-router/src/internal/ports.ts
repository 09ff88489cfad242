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
}

/** The pino-compatible subset the router logs with. */
export interface RouterLogger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
}
