// An express app started with `node --require unit-http/loader express-app.js`: express creates its server with
// require('http'), which the loader turns into unit-http, as under Unit.
'use strict';
const express = require('express');
const unitHttp = require('unit-http');

const app = express();
let server;
app.get('/hello', (req, res) => res.json({ kind: 'express', unitServer: server instanceof unitHttp.Server }));
app.get('/write-then-writehead', (req, res) => {
  res.write('a;');
  res.writeHead(404, { 'X-Late': '1' });
  res.end('b');
});
server = app.listen(8080);
