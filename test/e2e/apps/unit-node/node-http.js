// A plain node:http app (Warden's `node` type, no Unit module): the late header calls keep node:http's behaviour
// (ERR_HTTP_HEADERS_SENT), caught here and listed by /errors.
'use strict';
const http = require('http');
const routes = require('./routes.cjs');

http.createServer(routes('node-http', {}, true)).listen(8080);
