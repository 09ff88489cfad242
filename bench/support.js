// Helpers shared by the benchmark scripts of this folder.
'use strict';
const { execFileSync } = require('child_process');
const http = require('http');
const net = require('net');

/** The value after `--name` on the command line, or `def`. */
function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

/** Exits with an install hint when `cmd` is not on PATH. */
function need(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
  } catch (e) {
    if (e.code === 'ENOENT') {
      console.error(`bench: "${cmd}" is not installed (apt-get install -y ${cmd === 'go' ? 'golang-go' : cmd})`);
      process.exit(1);
    }
  }
}

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** One control-API request; resolves with the body text of a 200, rejects otherwise. */
function control(socket, method, p, body) {
  return new Promise((ok, fail) => {
    const data = body && JSON.stringify(body);
    const req = http.request({ socketPath: socket, method, path: p }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => (res.statusCode === 200 ? ok(t) : fail(new Error(`${method} ${p}: ${res.statusCode} ${t}`))));
    });
    req.on('error', fail);
    req.end(data);
  });
}

module.exports = { arg, need, freePort, control };
