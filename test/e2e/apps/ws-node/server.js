// WebSocket test app: an unmodified `ws` server and a socket.io server on one http.Server (served over the Warden
// channel when started by wardend, over TCP with PORT when started directly). Paths:
//   ws  /echo          echoes every message (text stays text); "close:<code>" closes with that code;
//                      "flood:<MiB>" sends that many MiB in 64 KiB binary messages as fast as ws takes them
//   GET /stats         {"open": sockets open now, "closes": [close codes seen from clients], "pid"}
//   GET /crash         exits the process at once (sockets open)
//   socket.io          "echo" events are answered with "echo" carrying the same payload
const http = require('http');
const { WebSocketServer } = require('ws');
const { Server } = require('socket.io');

const closes = [];
let open = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/stats') {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ open, closes, pid: process.pid }));
  } else if (req.url === '/crash') {
    process.exit(7);
  } else {
    res.end('plain ' + req.url);
  }
});

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 20 });
wss.on('connection', (ws) => {
  open++;
  ws.on('close', (code) => {
    open--;
    closes.push(code);
  });
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? null : data.toString();
    if (text !== null && text.startsWith('close:')) {
      ws.close(Number(text.slice(6)), 'server closes');
    } else if (text !== null && text.startsWith('flood:')) {
      const chunk = Buffer.alloc(64 << 10, 1);
      let left = Number(text.slice(6)) * 16;
      const more = () => {
        while (left > 0) {
          left--;
          ws.send(chunk);
          if (ws.bufferedAmount > 8 << 20) return setTimeout(more, 5);
        }
        ws.send('flood done');
      };
      more();
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
});

const io = new Server(server, { transports: ['websocket'] });
io.on('connection', (socket) => socket.on('echo', (payload) => socket.emit('echo', payload)));

// socket.io attaches its own 'upgrade' listener for /socket.io/; the rest goes to ws.
server.on('upgrade', (req, socket, head) => {
  if (req.url.startsWith('/echo')) wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  else if (!req.url.startsWith('/socket.io/')) socket.destroy();
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1');
