// An app that writes to stdout and stderr (at start and on every request), for the tests of how wardend logs app
// output. Plain node:http; under wardend the Node runtime serves it over the channel.
'use strict';
const http = require('http');

process.stdout.write('chatty stdout at start\n');
process.stderr.write('chatty stderr at start\n');
http
  .createServer((req, res) => {
    process.stdout.write(`chatty stdout ${req.url}\n`);
    process.stderr.write(`chatty stderr ${req.url}\n`);
    res.end('ok\n');
  })
  .listen(Number(process.env.PORT || 0));
