// Bench baseline server: the same echo as HTTP/1.1 over a unix socket (node:http), i.e. what a router would do
// without the shared-memory channel (proxy HTTP to the app over a unix socket).
const http = require('http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
server.listen(process.argv[2], () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
