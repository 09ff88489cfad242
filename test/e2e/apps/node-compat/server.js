// node:http behaviours apps rely on, served by wardend as they are served directly (test/e2e/node-compat.test.ts):
//   GET /events   Server-Sent Events: the head at once (res.flushHeaders()), the first event 1.5 s later, then the end
//   GET /exit     answers "bye" and exits in the same callback (res.end(); process.exit(0))
//   GET /slow     answers after 4 s, past the server's timeout (server.setTimeout(2500)): the connection is destroyed
const http = require('http');

const server = http
  .createServer((req, res) => {
    if (req.url === '/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.flushHeaders();
      setTimeout(() => res.end('data: first\n\n'), 1500);
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 4000);
    } else if (req.url === '/exit') {
      res.end('bye');
      process.exit(0);
    } else {
      res.end(`pid ${process.pid}`);
    }
  })
  .listen(process.env.PORT || 8080);
server.setTimeout(2500);
