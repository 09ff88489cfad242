// Bench baseline server: the channel's own frames (PROTOCOL.md: REQUEST, DATA, RESPONSE) carried over a unix
// socket instead of the shared-memory rings, encoded and decoded with the same codec. Each request arrives as
// REQUEST + DATA(END) and is answered with RESPONSE + DATA(END) echoing the body, in one socket write (with
// BENCH_CORK=1, the answers to one read chunk together in one write).
const net = require('net');
const { codec, layout } = require('./load.js');
const { decodeRequest, EncodeCache, encodeResponse, PositionCache, responseFrameBytes, writeFrameHeader } = codec;
const { FLAG_END, FRAME_HEADER, FrameType, align8 } = layout;

const HEAD = ['content-type', 'application/octet-stream'];
const { corked, frameReader } = require('./framing.js');

const server = net.createServer((sock) => {
  const heads = new Map(); // stream id -> decoded request head (kept until the body ends)
  const cache = new PositionCache(); // decoded and encoded exactly as the channel's app end does
  const encoder = new EncodeCache();
  const reader = frameReader(
    FRAME_HEADER,
    (b, off) => align8(b.readUInt32LE(off)),
    (b, off) => {
      const len = b.readUInt32LE(off);
      const type = b[off + 4];
      const id = b.readUInt32LE(off + 8);
      if (type === FrameType.REQUEST) heads.set(id, decodeRequest(b, off, len, cache));
      else if (type === FrameType.DATA && b[off + 5] & FLAG_END) {
        heads.delete(id);
        const n = len - FRAME_HEADER;
        const rlen = responseFrameBytes(HEAD);
        const out = Buffer.allocUnsafe(align8(rlen) + align8(FRAME_HEADER + n));
        encodeResponse(out, 0, rlen, id, 200, HEAD, encoder);
        const d0 = align8(rlen);
        writeFrameHeader(out, d0, FRAME_HEADER + n, FrameType.DATA, FLAG_END, id, 0);
        b.copy(out, d0 + FRAME_HEADER, off + FRAME_HEADER, off + len);
        sock.write(out);
      }
    },
  );
  // BENCH_CORK=1: the answers to one read chunk leave in one write(2) instead of one each.
  sock.on('data', process.env.BENCH_CORK === '1' ? corked(sock, reader) : reader);
  sock.on('error', () => undefined);
});
server.listen(process.argv[2], () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
