// A WebSocket app that requires unit-http and unit-http/websocket by name (no loader), with the module's default
// limits (64 KiB frames, 1 MiB messages) and a router that accepts only "/chat".
const http = require('unit-http');
const { server: WebSocketServer, router: WebSocketRouter } = require('unit-http/websocket');

const server = http.createServer(function (req, res) {
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('plain http\n');
});
server.listen(8080);

const wsServer = new WebSocketServer({ httpServer: server });
const router = new WebSocketRouter();
router.attachServer(wsServer);
router.mount('/chat', null, function (request) {
  const connection = request.accept(request.origin);
  connection.on('message', function (message) {
    connection.sendUTF('chat: ' + (message.type === 'utf8' ? message.utf8Data : message.binaryData.length + ' bytes'));
  });
});
