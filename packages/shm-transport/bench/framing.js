// Reassembles length-prefixed frames from a socket's 'data' chunks, for the unix-socket baselines of the bench.
// `headerBytes`: bytes needed to know a frame's size; `sizeAt(buf, off)`: that size (header included);
// `visit(buf, off, size)`: called for each complete frame, in order.
function frameReader(headerBytes, sizeAt, visit) {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    while (pending.length - off >= headerBytes) {
      const size = sizeAt(pending, off);
      if (pending.length - off < size) break;
      visit(pending, off, size);
      off += size;
    }
    pending = pending.subarray(off);
  };
}

/**
 * A 'data' listener that corks `sock` while `reader` handles one chunk: whatever it writes for that chunk (answers,
 * next requests) leaves in one write(2).
 */
function corked(sock, reader) {
  return (chunk) => {
    sock.cork();
    reader(chunk);
    sock.uncork();
  };
}

/** Bare frames: u32 stream id, u32 payload length, payload. */
const bareSize = (b, off) => 8 + b.readUInt32LE(off + 4);

module.exports = { frameReader, bareSize, corked };
