// The Node benchmark app: the same fixed small body as bench/apps/hello, on plain node:http. Run directly
// (`node app.js 127.0.0.1:PORT`) it parses HTTP itself; as a wardend `node` app the same file is served over the
// shared-memory channel (the listen() address is then ignored).
'use strict';
const http = require('http');

const body = Buffer.from('Hello, World!\n');
const [host, port] = (process.argv[2] || '127.0.0.1:8080').split(':');
http
  .createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  })
  .listen(Number(port), host);
