import * as http from 'http';
import { listenOverChannel } from './process-binding';

export { IncomingMessage, ServerResponse, STATUS_CODES, METHODS } from 'http';

/**
 * `http.Server` whose `listen()` serves over wardend's channel when the process runs under wardend (listen's
 * arguments are then only reported by `address()`), and listens normally otherwise. Like Unit's `unit-http`.
 */
export class Server extends http.Server {
  override listen(...args: unknown[]): this {
    if (listenOverChannel(this, args) === null) super.listen(...(args as []));
    return this;
  }
}

/** `http.createServer` returning a {@link Server}. Same arguments as Node's. */
export function createServer(options?: http.ServerOptions | http.RequestListener, requestListener?: http.RequestListener): Server {
  if (typeof options === 'function') return new Server(options);
  return options ? new Server(options, requestListener) : new Server(requestListener);
}
