// The shape of Unit's own "websockets/mirror" test app: started with `--require unit-http/loader`, so
// `require('http')` is unit-http and `require('websocket')` is unit-http/websocket; limits raised, outgoing messages
// not fragmented, every message sent back. Two additions for unit-app.test.ts, which Unit's cases never trigger: it
// accepts the subprotocol "mirror" when asked for it, and answers a text message "close CODE REASON" by closing.
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
  const connection = request.accept(request.requestedProtocols.includes('mirror') ? 'mirror' : null);
  connection.on('message', function (message) {
    if (message.type === 'utf8') {
      const m = /^close (\d+) (.*)$/.exec(message.utf8Data);
      if (m) connection.close(Number(m[1]), m[2]);
      else connection.send(message.utf8Data);
    } else if (message.type === 'binary') {
      connection.send(message.binaryData);
    }
  });
  connection.on('close', function () {});
});
