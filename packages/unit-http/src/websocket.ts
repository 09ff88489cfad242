// `require('unit-http/websocket')` (and `require('websocket')` under Unit's loaders): Unit's WebSocket module, whose
// API is the npm package `websocket` (WebSocket-Node). It works over node:http's 'upgrade' event, which Warden's
// runtime emits for WebSocket requests as node:http does, so the same module serves on a plain node:http server too.
// `export =` makes it a CommonJS module object, as Unit's: `require('unit-http/websocket').server`. The shorthand
// properties compile to `module.exports = { server, router, ... }`, which Node's CommonJS export detection reads, so
// an ES module may also `import { server } from 'websocket'` under `--loader unit-http/loader.mjs`.
import { WebSocketConnection } from './websocket/connection';
import { WebSocketFrame } from './websocket/frame';
import { WebSocketRequest } from './websocket/request';
import { WebSocketRouter } from './websocket/router';
import { WebSocketServer } from './websocket/server';

/** WebSocketServer: `new server({ httpServer })`, 'request' / 'connect' / 'close'. */
const server = WebSocketServer;
/** WebSocketRouter: routes a server's requests by path and subprotocol. */
const router = WebSocketRouter;
/** WebSocketFrame: a frame, as 'frame' events carry it. */
const frame = WebSocketFrame;
/** WebSocketRequest: an upgrade request to accept or reject. */
const request = WebSocketRequest;
/** WebSocketConnection: an accepted connection (and the CLOSE_REASON_* codes). */
const connection = WebSocketConnection;

export = { server, router, frame, request, connection };
