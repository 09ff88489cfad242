// Buffer's undocumented direct latin1 codec, `Buffer.prototype.latin1Write` / `latin1Slice` (what
// `buf.write(s, off, len, 'latin1')` and `buf.toString('latin1', start, end)` call after their argument handling,
// which costs more than the copy for the short strings of an HTTP head). This package is the one place in Warden that
// declares and looks them up: the router's HTTP parser and writer (@warden/http-router) and the channel codec
// (@warden/shm-transport) both use it. test/direct-latin1.test.ts fails naming the Node version when a Node drops or
// changes them, and this module then falls back to the documented calls, so requests still work, only slower.

interface Latin1Buffer {
  latin1Write(s: string, off: number, len: number): number;
  latin1Slice(start: number, end: number): string;
}

const proto = Buffer.prototype as unknown as Partial<Latin1Buffer>;

/** Whether this Node has the direct latin1 methods (else the documented, slower calls are used). */
export const DIRECT_LATIN1 = typeof proto.latin1Write === 'function' && typeof proto.latin1Slice === 'function';

/**
 * Writes the low byte of each of the first `len` chars of `s` at `off` (no more than fit in `buf`); returns the bytes
 * written. Same result as `buf.write(s, off, len, 'latin1')`.
 */
export const latin1Write: (buf: Buffer, s: string, off: number, len: number) => number = DIRECT_LATIN1
  ? (buf, s, off, len) => (buf as unknown as Latin1Buffer).latin1Write(s, off, len)
  : (buf, s, off, len) => buf.write(s, off, len, 'latin1');

/** Decodes `buf[start, end)` as latin1 (one char per byte). Same result as `buf.toString('latin1', start, end)`. */
export const latin1Slice: (buf: Buffer, start: number, end: number) => string = DIRECT_LATIN1
  ? (buf, start, end) => (buf as unknown as Latin1Buffer).latin1Slice(start, end)
  : (buf, start, end) => buf.toString('latin1', start, end);
