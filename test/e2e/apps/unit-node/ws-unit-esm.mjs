// The WebSocket mirror as an ES module, in the shape of Unit's "loader/es_modules_websocket" test app: `http` and
// `websocket` imported by name, resolved by `--loader unit-http/loader.mjs`.
import http from 'http';
import websocket from 'websocket';

const server = http.createServer(function () {});
server.listen(7080, function () {});

const wsServer = new websocket.server({
  maxReceivedMessageSize: 0x1000000000,
  maxReceivedFrameSize: 0x1000000000,
  fragmentOutgoingMessages: false,
  httpServer: server,
});

wsServer.on('request', function (request) {
  const connection = request.accept(null);
  connection.on('message', function (message) {
    connection.send(message.type === 'utf8' ? message.utf8Data : message.binaryData);
  });
});
