import * as fs from 'fs';
import { native } from '../src/internal/native';

describe('native doorbell ring(fd)', () => {
  it('sends one byte per ring, never blocks on a full socket buffer, and reports a gone peer as EPIPE', () => {
    const n = native();
    const [a, b] = n.socketpair();
    try {
      expect(n.ring(a)).toBe(0);
      const got = Buffer.alloc(8);
      expect(fs.readSync(b, got, 0, 8, null)).toBe(1);
      expect(got[0]).toBe(1);
      // Nobody reads: the buffer fills, and ring keeps returning success without blocking (EAGAIN = the peer has
      // unread bells and will look at the rings anyway).
      let failed = 0;
      for (let i = 0; i < 20_000; i++) if (n.ring(a) !== 0) failed++; // far more than the socket buffer holds
      expect(failed).toBe(0);
      fs.closeSync(b);
      expect(n.ring(a)).toBe(32); // EPIPE, and no SIGPIPE killed us
    } finally {
      fs.closeSync(a);
    }
  });
});

describe('native tuneAllocator', () => {
  it('sets glibc malloc thresholds (true on glibc; the channel does it once per process)', () => {
    const glibc = typeof (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } })?.header?.glibcVersionRuntime === 'string';
    expect(native().tuneAllocator(64 << 20, 4 << 20)).toBe(glibc);
  });
});
