// The same unmodified Node app served directly (PORT, prints "listening <port>") and by wardend (the preload serves
// it over the channel): test/e2e/http-parity.test.ts compares the bytes a client gets from both.
'use strict';
const http = require('http');

let connections = 0;
const ids = new WeakMap();
let nextId = 1;

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/close') {
    res.setHeader('Content-Type', 'text/plain');
    res.setHeader('Connection', 'close');
    res.end('bye\n');
  } else if (path === '/destroy') {
    res.destroy();
  } else if (path === '/reason') {
    res.writeHead(299, 'Custom Reason', { 'Content-Type': 'text/plain' });
    res.end('reason\n');
  } else if (path === '/req-timeout') {
    req.setTimeout(100, () => res.end('req timeout fired\n'));
  } else if (path === '/res-timeout') {
    res.setTimeout(100, () => res.end('res timeout fired\n'));
  } else if (path === '/trailers') {
    res.writeHead(200, { 'Content-Type': 'text/plain', Trailer: 'X-Checksum' });
    res.write('part one\n');
    res.addTrailers({ 'X-Checksum': 'abc123', 'Server-Timing': 'db;dur=53' });
    res.end('part two\n');
  } else if (path === '/hints') {
    res.writeEarlyHints({ link: ['</a.css>; rel=preload; as=style', '</b.js>; rel=preload; as=script'], 'x-hint': 'yes' });
    res.setHeader('Content-Type', 'text/plain');
    res.end('after hints\n');
  } else if (path === '/socket') {
    const s = req.socket;
    if (!ids.has(s)) ids.set(s, nextId++);
    res.setHeader('Content-Type', 'application/json');
    res.end(
      JSON.stringify({
        socket: ids.get(s),
        connections,
        closed,
        sameSocketAsResponse: res.socket === s,
        remoteAddress: s.remoteAddress,
        remotePortIsNumber: typeof s.remotePort === 'number' && s.remotePort > 0,
        localAddress: s.localAddress,
        localPortIsNumber: typeof s.localPort === 'number' && s.localPort > 0,
        bytesReadIsNumber: typeof s.bytesRead === 'number' && s.bytesRead > 0,
        bytesWrittenIsNumber: typeof s.bytesWritten === 'number',
        readyState: s.readyState,
        encrypted: s.encrypted ?? null,
      }),
    );
  } else {
    res.setHeader('Content-Type', 'text/plain');
    res.end('ok\n');
  }
});
let closed = 0;
server.on('connection', (s) => {
  connections++;
  s.on('close', () => closed++);
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
