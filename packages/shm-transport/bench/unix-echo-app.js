// Bench baseline server: the same echo over a unix socket with minimal framing
// (u32 stream id, u32 length, payload), one frame per request and per response.
const net = require('net');
const path = process.argv[2];
const { bareSize, frameReader } = require('./framing.js');

const server = net.createServer((sock) => {
  sock.on(
    'data',
    frameReader(8, bareSize, (b, off, n) => sock.write(b.subarray(off, off + n))),
  );
  sock.on('error', () => undefined);
});
server.listen(path, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
