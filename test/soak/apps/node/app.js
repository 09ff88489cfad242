// The Node app of the soak test (test/soak/soak.js), the same contract as test/soak/apps/go: every answer starts with
// X-Soak-Pid, X-Soak-App and X-Soak-Gen, flushed before any work; POST echoes the body, GET .../big?kb=N sends N KiB,
// any other GET a short body. Plain node:http, run unmodified as a wardend `node` app.
'use strict';
const http = require('http');

const chunk = Buffer.alloc(16 * 1024, '0123456789abcdef');
const pid = String(process.pid);

http
  .createServer((req, res) => {
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'X-Soak-Pid': pid,
      'X-Soak-App': process.env.SOAK_APP || '',
      'X-Soak-Gen': process.env.SOAK_GEN || '',
    });
    res.flushHeaders();
    if (req.method === 'POST') {
      req.pipe(res);
      return;
    }
    const url = new URL(req.url, 'http://x');
    if (!url.pathname.endsWith('/big')) {
      res.end(`ok ${pid}\n`);
      return;
    }
    let left = Number(url.searchParams.get('kb')) * 1024 || 0;
    const more = () => {
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        left -= n;
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  })
  .listen(8080);
