// The shape of Unit's "websockets/mirror_fragmentation" test app: the module's defaults, so a text message longer
// than 16 KiB goes back in fragments.
const server = require('http').createServer(function () {});
const webSocketServer = require('websocket').server;

server.listen(8080, function () {});

const wsServer = new webSocketServer({ httpServer: server });

wsServer.on('request', function (request) {
  const connection = request.accept(null);
  connection.on('message', function (message) {
    connection.send(message.utf8Data);
  });
  connection.on('close', function () {});
});
