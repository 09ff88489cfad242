// The request a WebSocketRouter hands to the handler mounted for its path and protocol (WebSocket-Node's
// `WebSocketRouterRequest`): the WebSocketRequest's fields, with the protocol already chosen by the route.
import { EventEmitter } from 'events';
import type { IncomingMessage } from 'http';
import type { UrlWithParsedQuery } from 'url';
import type { WebSocketConnection } from './connection';
import type { RequestCookie, RequestedExtension, ResponseCookie, WebSocketRequest } from './request';

/** The protocol name a route uses for "the client asked for no subprotocol". */
export const NO_PROTOCOL = '____no_protocol____';

/** A routed upgrade request: accept (with the route's protocol) or reject. */
export class WebSocketRouterRequest extends EventEmitter {
  readonly webSocketRequest: WebSocketRequest;
  /** The protocol the route matched, or null when the client asked for none. */
  readonly protocol: string | null;
  readonly origin: string | undefined;
  readonly resource: string;
  readonly resourceURL: UrlWithParsedQuery;
  readonly httpRequest: IncomingMessage;
  readonly remoteAddress: string | undefined;
  readonly webSocketVersion: number;
  readonly requestedExtensions: RequestedExtension[];
  readonly cookies: RequestCookie[];

  constructor(webSocketRequest: WebSocketRequest, resolvedProtocol: string) {
    super();
    this.webSocketRequest = webSocketRequest;
    this.protocol = resolvedProtocol === NO_PROTOCOL ? null : resolvedProtocol;
    this.origin = webSocketRequest.origin;
    this.resource = webSocketRequest.resource;
    this.resourceURL = webSocketRequest.resourceURL;
    this.httpRequest = webSocketRequest.httpRequest;
    this.remoteAddress = webSocketRequest.remoteAddress;
    this.webSocketVersion = webSocketRequest.webSocketVersion;
    this.requestedExtensions = webSocketRequest.requestedExtensions;
    this.cookies = webSocketRequest.cookies;
  }

  /** Accepts with the route's protocol; see `WebSocketRequest.accept`. */
  accept(origin?: string | null, cookies?: ResponseCookie[]): WebSocketConnection {
    const connection = this.webSocketRequest.accept(this.protocol, origin, cookies);
    this.emit('requestAccepted', connection);
    return connection;
  }

  /** Rejects; see `WebSocketRequest.reject`. */
  reject(status?: number, reason?: string, extraHeaders?: Record<string, unknown>): void {
    this.webSocketRequest.reject(status, reason, extraHeaders);
    this.emit('requestRejected', this);
  }
}
