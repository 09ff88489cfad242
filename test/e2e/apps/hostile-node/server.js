// A hostile Node app for test/e2e/hostile-isolated-app.test.ts. Serves GET / ("ok <pid>"); on start, does what
// $HOSTILE says:
//   long-line   writes 1 MiB to stdout without a newline, and keeps running (readline in wardend held such a line
//               until its newline: 900 MiB of it stopped wardend)
const http = require('http');

if (process.env.HOSTILE === 'long-line') process.stdout.write('x'.repeat(1 << 20));

http.createServer((req, res) => res.end(`ok ${process.pid}`)).listen(8080);
