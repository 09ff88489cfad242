// Request handler shared by the Unit-style apps of test/e2e/unit-app.test.ts. `kind` names the app in /hello;
// `info` is what the app reports about its module set-up. With `guard`, exceptions of the late header calls are
// caught and listed by /errors (the node:http app: node throws there); without it they are uncaught, as in an app
// written for Unit, and would crash the process.
'use strict';

module.exports = function routes(kind, info, guard = false) {
  const errors = [];
  const attempt = guard
    ? (fn) => {
        try {
          fn();
        } catch (err) {
          errors.push(err.code);
        }
      }
    : (fn) => fn();
  return (req, res) => {
    const url = new URL(req.url, 'http://x');
    switch (url.pathname) {
      case '/hello':
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ kind, pid: process.pid, ...info }));
        break;
      case '/write-then-writehead':
        res.write('a;');
        attempt(() => res.writeHead(404, { 'X-Late': '1' }));
        res.end('b');
        break;
      case '/writehead-after-end':
        res.end('ended');
        attempt(() => res.writeHead(500, { 'X-Late': '1' }));
        break;
      case '/writehead-twice':
        res.writeHead(404, { 'X-First': '1' });
        attempt(() => res.writeHead(201, { 'X-Second': '2' }));
        attempt(() => res.setHeader('X-Third', '3'));
        res.end('twice');
        break;
      case '/errors':
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(errors.splice(0)));
        break;
      default:
        res.statusCode = 404;
        res.end('not found');
    }
  };
};
