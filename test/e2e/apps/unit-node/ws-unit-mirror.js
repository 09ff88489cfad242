// The shape of Unit's own "websockets/mirror" test app: require('http') and require('websocket') under
// `--require unit-http/loader`, limits raised, outgoing messages not fragmented, every message sent back.
const server = require('http').createServer(function () {});
const webSocketServer = require('websocket').server;

server.listen(7080, function () {});

const wsServer = new webSocketServer({
  maxReceivedMessageSize: 0x1000000000,
  maxReceivedFrameSize: 0x1000000000,
  fragmentOutgoingMessages: false,
  fragmentationThreshold: 0x1000000000,
  httpServer: server,
});

wsServer.on('request', function (request) {
  const connection = request.accept(null);
  connection.on('message', function (message) {
    if (message.type === 'utf8') connection.send(message.utf8Data);
    else if (message.type === 'binary') connection.send(message.binaryData);
  });
  connection.on('close', function () {});
});
