// The example app of the container image and the Kubernetes manifests: an unmodified Node http server. Under wardend
// it is served over shared memory (the port is ignored); it answers with what it sees of its isolation.
'use strict';
const http = require('http');
const os = require('os');
const { readlinkSync } = require('fs');

const ns = (n) => readlinkSync(`/proc/self/ns/${n}`);
http
  .createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(`${JSON.stringify({ app: 'hello', pid: process.pid, uid: process.getuid(), hostname: os.hostname(), pidns: ns('pid'), url: req.url })}\n`);
  })
  .listen(8080);
