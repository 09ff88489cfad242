// The Node benchmark app, the same routes as bench/apps/hello on plain node:http:
//   GET /      a fixed 64-byte body
//   GET /64k   a fixed 64 KiB body
//   POST /echo the request body back (read whole, then written with its Content-Length)
// Run directly (`node app.js 127.0.0.1:PORT`) it parses HTTP itself; as a wardend `node` app the same file is served
// over the shared-memory channel (the listen() address is then ignored).
'use strict';
const http = require('http');

const small = Buffer.from('Hello, World! This is the 64-byte response of the bench app....\n');
const large = Buffer.from('0123456789abcdef'.repeat(4096));
const [host, port] = (process.argv[2] || '127.0.0.1:8080').split(':');

function send(res, type, body) {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length });
  res.end(body);
}

http
  .createServer((req, res) => {
    if (req.url === '/echo') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => send(res, 'application/octet-stream', Buffer.concat(chunks)));
    } else send(res, 'text/plain', req.url === '/64k' ? large : small);
  })
  .listen(Number(port), host);
