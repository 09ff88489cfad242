// Encoding and decoding of frame headers and the two structured payloads (REQUEST, RESPONSE). Everything works on a
// Buffer + offset so the same code writes straight into the ring (hot path, no intermediate copy) or into a
// scratch Buffer (back-pressure queue, test vectors). Decoders validate every length against the frame: they are
// fed bytes a hostile app controls.
import type { RequestHead } from '../types';
import { align8, FLAG_END, FLAG_TLS, FRAME_HEADER, FrameType } from './layout';
import { ShmError, ShmErrorCode } from '../errors';

/** Thrown by decoders and ring checks; the channel closes with it. */
export function protocolError(msg: string): ShmError {
  return new ShmError(ShmErrorCode.PROTOCOL, msg);
}

const TWO32 = 0x1_0000_0000;

// Node's Buffer has fast latin1 accessors that @types/node does not declare.
interface Latin1Buffer {
  latin1Write(s: string, off: number, len: number): number;
  latin1Slice(start: number, end: number): string;
}

/** Writes the 16-byte frame header. (Plain byte stores: Buffer.writeUInt32LE's argument checks cost more.) */
export function writeFrameHeader(
  b: Buffer, off: number, len: number, type: number, flags: number, stream: number, arg: number,
): void {
  putU32(b, off, len);
  b[off + 4] = type;
  b[off + 5] = flags;
  b[off + 6] = 0;
  b[off + 7] = 0;
  putU32(b, off + 8, stream);
  putU32(b, off + 12, arg);
}

/** u32 little-endian; `v` is an integer in [0, 2^32) (callers' invariant). */
function putU32(b: Buffer, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = v >>> 24;
}

function stringsBytes(list: string[]): number {
  let n = 4 * list.length;
  for (let i = 0; i < list.length; i++) n += list[i].length;
  return n;
}

/** Frame length (header + payload, unpadded) of a REQUEST frame. */
export function requestFrameBytes(h: RequestHead): number {
  return (
    FRAME_HEADER + 16 +
    20 + h.method.length + h.target.length + h.httpVersion.length + h.remoteAddress.length + h.localAddress.length +
    stringsBytes(h.headers)
  );
}

/** Writes u32 length + latin1 bytes; callers guarantee the room (frame length computed beforehand). */
function putString(b: Buffer, off: number, s: string): number {
  const n = s.length;
  putU32(b, off, n);
  off += 4;
  // Short strings (methods, header names, addresses): a JS loop beats the native call by ~5x.
  if (n <= 48) {
    for (let i = 0; i < n; i++) b[off + i] = s.charCodeAt(i);
  } else {
    (b as unknown as Latin1Buffer).latin1Write(s, off, n);
  }
  return off + n;
}

// Interning of short strings on decode: methods, versions, header names and common values repeat on every request;
// a hash of the bytes finds the string made last time without allocating. Bounded: once full, misses just allocate.
const INTERN_MAX_LEN = 32;
const INTERN_MAX_ENTRIES = 4096;
const interned = new Map<number, string>();

function decodeShort(b: Buffer, s: number, n: number): string {
  let h = n;
  for (let i = 0; i < n; i++) h = (Math.imul(h, 31) + b[s + i]) | 0;
  const c = interned.get(h);
  if (c !== undefined && c.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (c.charCodeAt(i) !== b[s + i]) {
        same = false;
        break;
      }
    }
    if (same) return c;
  }
  const str = (b as unknown as Latin1Buffer).latin1Slice(s, s + n);
  if (c === undefined && interned.size < INTERN_MAX_ENTRIES) interned.set(h, str);
  return str;
}

/** Writes a whole REQUEST frame of `len` = requestFrameBytes(h) bytes. */
export function encodeRequest(b: Buffer, off: number, len: number, stream: number, h: RequestHead): void {
  writeFrameHeader(b, off, len, FrameType.REQUEST, h.tls ? FLAG_TLS : 0, stream, 0);
  let p = off + FRAME_HEADER;
  const cl = h.contentLength;
  if (cl < 0) {
    putU32(b, p, 0xffffffff);
    putU32(b, p + 4, 0xffffffff);
  } else {
    putU32(b, p, cl % TWO32);
    putU32(b, p + 4, Math.floor(cl / TWO32));
  }
  const rp = h.remotePort & 0xffff;
  const lp = h.localPort & 0xffff;
  b[p + 8] = rp & 0xff;
  b[p + 9] = rp >>> 8;
  b[p + 10] = lp & 0xff;
  b[p + 11] = lp >>> 8;
  putU32(b, p + 12, h.headers.length >>> 1);
  p += 16;
  p = putString(b, p, h.method);
  p = putString(b, p, h.target);
  p = putString(b, p, h.httpVersion);
  p = putString(b, p, h.remoteAddress);
  p = putString(b, p, h.localAddress);
  const hs = h.headers;
  for (let i = 0; i < hs.length; i++) p = putString(b, p, hs[i]);
}

/** Validates a RequestHead before encoding (router side: our own caller's data, but wrong types must not corrupt). */
export function checkRequestHead(h: RequestHead): string | null {
  if (typeof h.method !== 'string' || typeof h.target !== 'string' || typeof h.httpVersion !== 'string') {
    return 'method, target and httpVersion must be strings';
  }
  if (typeof h.remoteAddress !== 'string' || typeof h.localAddress !== 'string') return 'addresses must be strings';
  const hs = h.headers;
  if (!Array.isArray(hs) || hs.length % 2 !== 0) return 'headers must be a flat [name, value, ...] array';
  for (let i = 0; i < hs.length; i++) if (typeof hs[i] !== 'string') return 'header names and values must be strings';
  const cl = h.contentLength;
  if (!Number.isSafeInteger(cl) || cl < -1) return 'contentLength must be an integer >= -1';
  if (!Number.isInteger(h.remotePort) || !Number.isInteger(h.localPort)) return 'ports must be integers';
  return null;
}

/**
 * Strings decoded at each position of the last frames of one kind. Consecutive requests repeat most of their
 * strings at the same place (method, version, addresses, header names and many values), so comparing the bytes with
 * the string decoded at that position last time finds it in one pass, without hashing or allocating.
 */
export class PositionCache {
  /** @internal */ readonly last: string[] = [];
}

const MAX_CACHED_POSITIONS = 64;
const MAX_CACHED_LENGTH = 256;

/** Cursor over strings in a frame; every read is checked against the frame end. */
class StringReader {
  private k = 0;
  constructor(private readonly b: Buffer, public p: number, private readonly end: number, private readonly cache: PositionCache | null) {}
  next(): string {
    if (this.p + 4 > this.end) throw protocolError('string length runs past the end of the frame');
    const b = this.b;
    const n = b.readUInt32LE(this.p);
    const s = this.p + 4;
    if (n > this.end - s) throw protocolError(`string of ${n} bytes runs past the end of the frame`);
    this.p = s + n;
    const k = this.k++;
    if (n === 0) return '';
    const cache = this.cache;
    if (cache !== null && k < MAX_CACHED_POSITIONS) {
      const c = cache.last[k];
      if (c !== undefined && c.length === n) {
        let i = 0;
        while (i < n && c.charCodeAt(i) === b[s + i]) i++;
        if (i === n) return c;
      }
      const str = n <= INTERN_MAX_LEN ? decodeShort(b, s, n) : (b as unknown as Latin1Buffer).latin1Slice(s, s + n);
      if (n <= MAX_CACHED_LENGTH) cache.last[k] = str;
      return str;
    }
    return n <= INTERN_MAX_LEN ? decodeShort(b, s, n) : (b as unknown as Latin1Buffer).latin1Slice(s, s + n);
  }
}

/** Decodes a REQUEST frame at `off` of unpadded length `len` (already checked to lie inside `b`). */
export function decodeRequest(b: Buffer, off: number, len: number, cache: PositionCache | null = null): RequestHead {
  const end = off + len;
  let p = off + FRAME_HEADER;
  if (p + 16 > end) throw protocolError('REQUEST frame too short');
  const lo = b.readUInt32LE(p);
  const hi = b.readUInt32LE(p + 4);
  let contentLength: number;
  if (lo === 0xffffffff && hi === 0xffffffff) contentLength = -1;
  else if (hi >= 0x200000) throw protocolError('REQUEST content length out of range');
  else contentLength = hi * TWO32 + lo;
  const remotePort = b.readUInt16LE(p + 8);
  const localPort = b.readUInt16LE(p + 10);
  const pairs = b.readUInt32LE(p + 12);
  p += 16;
  // Each header string needs at least 4 bytes: reject absurd counts before allocating.
  if (pairs > (end - p) / 8) throw protocolError('REQUEST header count larger than the frame');
  const r = new StringReader(b, p, end, cache);
  const method = r.next();
  const target = r.next();
  const httpVersion = r.next();
  const remoteAddress = r.next();
  const localAddress = r.next();
  const headers = new Array<string>(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) headers[i] = r.next();
  if (r.p !== end) throw protocolError('REQUEST frame has trailing bytes');
  return {
    method, target, httpVersion, headers, remoteAddress, remotePort, localAddress, localPort,
    tls: (b[off + 5] & FLAG_TLS) !== 0, contentLength,
  };
}

/** Frame length of a RESPONSE frame. */
export function responseFrameBytes(headers: string[]): number {
  return FRAME_HEADER + 4 + stringsBytes(headers);
}

/** Writes a whole RESPONSE frame. */
export function encodeResponse(b: Buffer, off: number, len: number, stream: number, status: number, headers: string[]): void {
  writeFrameHeader(b, off, len, FrameType.RESPONSE, 0, stream, status);
  let p = off + FRAME_HEADER;
  putU32(b, p, headers.length >>> 1);
  p += 4;
  for (let i = 0; i < headers.length; i++) p = putString(b, p, headers[i]);
}

/** Decodes a RESPONSE frame: status (100..999) and flat headers. */
export function decodeResponse(b: Buffer, off: number, len: number): { status: number; headers: string[] } {
  const headers = decodeResponseHeaders(b, off, len, null);
  return { status: b.readUInt32LE(off + 12), headers };
}

/** Checks a RESPONSE frame's status (read it with `b.readUInt32LE(off + 12)`) and decodes its flat headers. */
export function decodeResponseHeaders(b: Buffer, off: number, len: number, cache: PositionCache | null): string[] {
  const end = off + len;
  const status = b.readUInt32LE(off + 12);
  if (status < 100 || status > 999) throw protocolError(`RESPONSE status ${status} out of range`);
  let p = off + FRAME_HEADER;
  if (p + 4 > end) throw protocolError('RESPONSE frame too short');
  const pairs = b.readUInt32LE(p);
  p += 4;
  if (pairs > (end - p) / 8) throw protocolError('RESPONSE header count larger than the frame');
  const r = new StringReader(b, p, end, cache);
  const headers = new Array<string>(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) headers[i] = r.next();
  if (r.p !== end) throw protocolError('RESPONSE frame has trailing bytes');
  return headers;
}

/** A whole frame as a value (test vectors, debugging). */
export type Frame =
  | { type: 'REQUEST'; stream: number; head: RequestHead }
  | { type: 'RESPONSE'; stream: number; status: number; headers: string[] }
  | { type: 'DATA'; stream: number; data: Buffer; end?: boolean }
  | { type: 'END'; stream: number }
  | { type: 'ABORT'; stream: number; reason: number }
  | { type: 'WINDOW'; stream: number; credit: number }
  | { type: 'READY' }
  | { type: 'SHUTDOWN' };

/** Encodes one frame into a new Buffer, padded with zeros to a multiple of 8 bytes (its size in a ring). */
export function encodeFrame(f: Frame): Buffer {
  let len: number;
  switch (f.type) {
    case 'REQUEST': len = requestFrameBytes(f.head); break;
    case 'RESPONSE': len = responseFrameBytes(f.headers); break;
    case 'DATA': len = FRAME_HEADER + f.data.length; break;
    default: len = FRAME_HEADER;
  }
  const b = Buffer.alloc(align8(len));
  switch (f.type) {
    case 'REQUEST': encodeRequest(b, 0, len, f.stream, f.head); break;
    case 'RESPONSE': encodeResponse(b, 0, len, f.stream, f.status, f.headers); break;
    case 'DATA': writeFrameHeader(b, 0, len, FrameType.DATA, f.end ? FLAG_END : 0, f.stream, 0); f.data.copy(b, FRAME_HEADER); break;
    case 'END': writeFrameHeader(b, 0, len, FrameType.END, 0, f.stream, 0); break;
    case 'ABORT': writeFrameHeader(b, 0, len, FrameType.ABORT, 0, f.stream, f.reason); break;
    case 'WINDOW': writeFrameHeader(b, 0, len, FrameType.WINDOW, 0, f.stream, f.credit); break;
    case 'READY': writeFrameHeader(b, 0, len, FrameType.READY, 0, 0, 0); break;
    case 'SHUTDOWN': writeFrameHeader(b, 0, len, FrameType.SHUTDOWN, 0, 0, 0); break;
  }
  return b;
}

/** Decodes one frame from the start of `b` (as stored in a ring: padding after it is ignored). */
export function decodeFrame(b: Buffer): Frame {
  if (b.length < FRAME_HEADER) throw protocolError('frame shorter than its header');
  const len = b.readUInt32LE(0);
  if (len < FRAME_HEADER || len > b.length) throw protocolError(`frame length ${len} out of range`);
  const type = b[4];
  const stream = b.readUInt32LE(8);
  const arg = b.readUInt32LE(12);
  switch (type) {
    case FrameType.REQUEST: return { type: 'REQUEST', stream, head: decodeRequest(b, 0, len) };
    case FrameType.RESPONSE: { const r = decodeResponse(b, 0, len); return { type: 'RESPONSE', stream, ...r }; }
    case FrameType.DATA: {
      const data = Buffer.from(b.subarray(FRAME_HEADER, len));
      return b[5] & FLAG_END ? { type: 'DATA', stream, data, end: true } : { type: 'DATA', stream, data };
    }
    case FrameType.END: return { type: 'END', stream };
    case FrameType.ABORT: return { type: 'ABORT', stream, reason: arg };
    case FrameType.WINDOW: return { type: 'WINDOW', stream, credit: arg };
    case FrameType.READY: return { type: 'READY' };
    case FrameType.SHUTDOWN: return { type: 'SHUTDOWN' };
    default: throw protocolError(`unknown frame type ${type}`);
  }
}
