// Loaded with `node --require <this file> app.js` (the `node` launcher does it; an `external` app can pass it in
// `arguments`). Under wardend (WARDEN_CHANNEL set) it replaces `http.Server.prototype.listen`, so that an unmodified
// `http.createServer(handler).listen(port)` — or express/fastify, which do the same — is served over the channel.
// The patch is on the prototype shared by CommonJS `require('http')` and ES `import http from 'node:http'`, so ES
// module apps need no loader. Outside wardend this file changes nothing.
import * as http from 'http';
import { listenOverChannel, underWarden } from './process-binding';

if (underWarden()) {
  const originalListen = http.Server.prototype.listen;
  const patched = function listen(this: http.Server, ...args: unknown[]): http.Server {
    return listenOverChannel(this, args) ?? (originalListen.apply(this, args as never) as http.Server);
  };
  Object.defineProperty(patched, 'name', { value: 'listen' });
  http.Server.prototype.listen = patched as typeof http.Server.prototype.listen;
}
