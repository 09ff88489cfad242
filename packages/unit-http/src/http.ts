// `require('unit-http')`: NGINX Unit's module for Node apps, on Warden's runtime. Like Unit's, it is node:http's
// module with its own `Server`, `createServer`, `IncomingMessage` and `ServerResponse`; everything else (`request`,
// `get`, `Agent`, `STATUS_CODES`, ...) is node:http's. Each name is a plain `exports.name = ...` assignment so that
// Node finds it as a named export when an ES module imports this file (`import { createServer } from 'http'` under
// `--loader unit-http/loader.mjs`).
import nodeHttp = require('http');
import { Server as WardenServer } from '@warden/app-types/http';
import { ServerResponse as UnitServerResponse } from './server-response';

// The warning Unit's unit-http prints when `createServer`/`new Server` gets an options object (Unit ignores it).
const UNSUPPORTED_OPTIONS_WARNING = 'http.Server constructor was called with unsupported options, using default settings';

/**
 * unit-http's `Server`: an `http.Server` served over wardend's channel when the process runs under wardend (it then
 * binds no port; `listen()`'s arguments are only reported by `address()`), listening normally otherwise. Options
 * are ignored with Unit's warning, as Unit does; responses have Unit's semantics ({@link ServerResponse}).
 */
export class Server extends WardenServer {
  constructor(options?: unknown, requestListener?: nodeHttp.RequestListener) {
    if (typeof options === 'function') {
      requestListener = options as nodeHttp.RequestListener;
    } else if (options !== undefined && options !== null) {
      // Unit prints this with console.warn, on the app's stderr (which wardend logs); Unit users grep for it.
      console.warn(UNSUPPORTED_OPTIONS_WARNING);
    }
    super({ ServerResponse: UnitServerResponse as unknown as typeof nodeHttp.ServerResponse }, requestListener);
  }
}

/** `createServer([options,] [requestListener])` returning a unit-http {@link Server}. */
export function createServer(requestListener?: nodeHttp.RequestListener): Server;
export function createServer(options: unknown, requestListener?: nodeHttp.RequestListener): Server;
export function createServer(options?: unknown, requestListener?: nodeHttp.RequestListener): Server {
  return new Server(options, requestListener);
}

/** unit-http's `ServerResponse`: node's, with Unit's tolerance of late `writeHead()`/`setHeader()` calls. */
export const ServerResponse = UnitServerResponse;
export type ServerResponse = UnitServerResponse;
/** node:http's `IncomingMessage` (requests are node's own class under Warden; Unit has its own). */
export const IncomingMessage = nodeHttp.IncomingMessage;
export const METHODS = nodeHttp.METHODS;
export const STATUS_CODES = nodeHttp.STATUS_CODES;
export const Agent = nodeHttp.Agent;
export const ClientRequest = nodeHttp.ClientRequest;
export const OutgoingMessage = nodeHttp.OutgoingMessage;
export const validateHeaderName = nodeHttp.validateHeaderName;
export const validateHeaderValue = nodeHttp.validateHeaderValue;
export const get = nodeHttp.get;
export const request = nodeHttp.request;
export const setMaxIdleHTTPParsers = nodeHttp.setMaxIdleHTTPParsers;
export const maxHeaderSize = nodeHttp.maxHeaderSize;
/** A copy of node's value when this module loaded, as in Unit (whose module is `{...http}`). */
export const globalAgent = nodeHttp.globalAgent;

// Whatever else this Node's http module has (newer Nodes add names), as in Unit's `{...http}`.
for (const name of Object.keys(nodeHttp)) {
  if (!(name in module.exports)) (module.exports as Record<string, unknown>)[name] = (nodeHttp as unknown as Record<string, unknown>)[name];
}
