// Bench baseline server: the same echo over a unix socket with minimal framing
// (u32 stream id, u32 length, payload), one frame per request and per response.
const net = require('net');
const path = process.argv[2];
const server = net.createServer((sock) => {
  let pending = Buffer.alloc(0);
  sock.on('data', (d) => {
    pending = pending.length ? Buffer.concat([pending, d]) : d;
    let off = 0;
    while (pending.length - off >= 8) {
      const len = pending.readUInt32LE(off + 4);
      if (pending.length - off < 8 + len) break;
      sock.write(pending.subarray(off, off + 8 + len));
      off += 8 + len;
    }
    pending = pending.subarray(off);
  });
  sock.on('error', () => undefined);
});
server.listen(path, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
