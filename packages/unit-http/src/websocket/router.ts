// WebSocket-Node's `WebSocketRouter`, which Unit's module exports as `router`: it listens for a WebSocketServer's
// 'request' and hands each one to the handler mounted for its path and subprotocol, rejecting with 404 when none is.
import { EventEmitter } from 'events';
import type { WebSocketRequest } from './request';
import { NO_PROTOCOL, WebSocketRouterRequest } from './router-request';
import type { WebSocketServer } from './server';

/** A mounted route. */
export interface RouteHandler {
  path: RegExp;
  pathString: string;
  /** Lower-cased; `____no_protocol____` for "no subprotocol", `*` for any. */
  protocol: string;
  callback: (request: WebSocketRouterRequest) => void;
}

/** Routes a WebSocketServer's requests by path (`resourceURL.pathname`) and subprotocol. */
export class WebSocketRouter extends EventEmitter {
  config: { server: WebSocketServer | null };
  handlers: RouteHandler[] = [];
  server: WebSocketServer | null = null;

  private readonly onRequest = (request: WebSocketRequest): void => this.handleRequest(request);

  constructor(config?: { server?: WebSocketServer | null }) {
    super();
    this.config = { server: config?.server ?? null };
    if (this.config.server) this.attachServer(this.config.server);
  }

  attachServer(server: WebSocketServer): void {
    if (!server) throw new Error('You must specify a WebSocketServer instance to attach to.');
    this.server = server;
    server.on('request', this.onRequest);
  }

  detachServer(): void {
    if (!this.server) throw new Error('Cannot detach from server: not attached.');
    this.server.removeListener('request', this.onRequest);
    this.server = null;
  }

  /**
   * Mounts `callback` for requests whose path matches `path` (a string matched whole, `'*'` for any, or a RegExp)
   * and that ask for `protocol` (null or `____no_protocol____` for none, `'*'` for any).
   */
  mount(path: string | RegExp, protocol: string | null | undefined, callback: (request: WebSocketRouterRequest) => void): void {
    if (!path) throw new Error('You must specify a path for this handler.');
    if (!callback) throw new Error('You must specify a callback for this handler.');
    const pattern = pathToRegExp(path);
    if (!(pattern instanceof RegExp)) throw new Error('Path must be specified as either a string or a RegExp.');
    const normalized = (protocol || NO_PROTOCOL).toLowerCase();
    if (this.findHandlerIndex(pattern.toString(), normalized) !== -1) throw new Error('You may only mount one handler per path/protocol combination.');
    this.handlers.push({ path: pattern, pathString: pattern.toString(), protocol: normalized, callback });
  }

  unmount(path: string | RegExp, protocol?: string | null): void {
    const index = this.findHandlerIndex(pathToRegExp(path).toString(), (protocol || NO_PROTOCOL).toLowerCase());
    if (index === -1) throw new Error('Unable to find a route matching the specified path and protocol.');
    this.handlers.splice(index, 1);
  }

  findHandlerIndex(pathString: string, protocol: string): number {
    return this.handlers.findIndex((h) => h.pathString === pathString && h.protocol === protocol);
  }

  /** Hands `request` to the first route for its first requested protocol that has one, else rejects it (404). */
  handleRequest(request: WebSocketRequest): void {
    const protocols = request.requestedProtocols.length > 0 ? request.requestedProtocols : [NO_PROTOCOL];
    const pathname = request.resourceURL.pathname ?? '/';
    for (const protocol of protocols) {
      const wanted = protocol.toLowerCase();
      for (const handler of this.handlers) {
        if (handler.path.test(pathname) && (handler.protocol === wanted || handler.protocol === '*')) {
          handler.callback(new WebSocketRouterRequest(request, wanted));
          return;
        }
      }
    }
    request.reject(404, 'No handler is available for the given request.');
  }
}

/** A string path as an anchored RegExp (`'*'`: any path); a RegExp as it is. */
function pathToRegExp(path: string | RegExp): RegExp {
  if (typeof path !== 'string') return path;
  if (path === '*') return /^.*$/;
  return new RegExp(`^${path.replace(/[-[\]/{}()*+?.\\^$|]/g, '\\$&')}$`);
}
