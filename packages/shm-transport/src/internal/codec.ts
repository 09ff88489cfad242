// Encoding and decoding of frame headers and the two structured payloads (REQUEST, RESPONSE). Everything works on a
// Buffer + offset so the same code writes straight into the ring (hot path, no intermediate copy) or into a
// scratch Buffer (back-pressure queue, test vectors). Decoders validate every length against the frame: they are
// fed bytes a hostile app controls.
import type { RequestHead } from '../types';
import { align8, FLAG_END, FLAG_HTTP10, FLAG_REASON, FLAG_TLS, FLAG_UPGRADE, FRAME_HEADER, FrameType } from './layout';
import { ShmError, ShmErrorCode } from '../errors';
import { latin1Slice, latin1Write } from '@warden/latin1';

/** Thrown by decoders and ring checks; the channel closes with it. */
export function protocolError(msg: string): ShmError {
  return new ShmError(ShmErrorCode.PROTOCOL, msg);
}

const TWO32 = 0x1_0000_0000;

/** Writes the 16-byte frame header. (Plain byte stores: Buffer.writeUInt32LE's argument checks cost more.) */
export function writeFrameHeader(b: Buffer, off: number, len: number, type: number, flags: number, stream: number, arg: number): void {
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
    FRAME_HEADER + 16 + 20 + h.method.length + h.target.length + h.httpVersion.length + h.remoteAddress.length + h.localAddress.length + stringsBytes(h.headers)
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
    latin1Write(b, s, off, n);
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
  const str = latin1Slice(b, s, s + n);
  if (c === undefined && interned.size < INTERN_MAX_ENTRIES) interned.set(h, str);
  return str;
}

/**
 * Writes a whole REQUEST frame of `len` = requestFrameBytes(h) bytes. With `cache`, a head whose strings are the
 * same as the last head encoded through that cache gets its string section copied instead of encoded again.
 */
export function encodeRequest(b: Buffer, off: number, len: number, stream: number, h: RequestHead, cache: EncodeCache | null = null): void {
  const cl = h.contentLength;
  const lo = cl < 0 ? 0xffffffff : cl % TWO32;
  const hi = cl < 0 ? 0xffffffff : Math.floor(cl / TWO32);
  const ports = (h.remotePort & 0xffff) | ((h.localPort & 0xffff) << 16);
  const flags = (h.tls ? FLAG_TLS : 0) | (h.upgrade === true ? FLAG_UPGRADE : 0);
  const w = cache !== null ? cache.view.at(b, off) : null;
  if (w !== null) {
    // Aligned (always so in a ring): the header and fixed part as eight 32-bit stores (little-endian host).
    const i = off >>> 2;
    w[i] = len;
    w[i + 1] = FrameType.REQUEST | (flags << 8);
    w[i + 2] = stream;
    w[i + 3] = h.connection ?? 0;
    w[i + 4] = lo;
    w[i + 5] = hi;
    w[i + 6] = ports;
    w[i + 7] = h.headers.length >>> 1;
  } else {
    writeFrameHeader(b, off, len, FrameType.REQUEST, flags, stream, (h.connection ?? 0) >>> 0);
    const q = off + FRAME_HEADER;
    putU32(b, q, lo);
    putU32(b, q + 4, hi);
    putU32(b, q + 8, ports >>> 0);
    putU32(b, q + 12, h.headers.length >>> 1);
  }
  let p = off + FRAME_HEADER + 16;
  const hs = h.headers;
  const n = off + len - p;
  if (cache !== null && cache.n === n && cache.matchesRequest(h)) {
    cache.copyTo(b, p);
    return;
  }
  const start = p;
  p = putString(b, p, h.method);
  p = putString(b, p, h.target);
  p = putString(b, p, h.httpVersion);
  p = putString(b, p, h.remoteAddress);
  p = putString(b, p, h.localAddress);
  for (let i = 0; i < hs.length; i++) p = putString(b, p, hs[i]);
  if (cache !== null) cache.keep(b, start, n, [h.method, h.target, h.httpVersion, h.remoteAddress, h.localAddress, ...hs]);
}

function sameRequestStrings(c: string[], h: RequestHead): boolean {
  if (c[0] !== h.method || c[1] !== h.target || c[2] !== h.httpVersion || c[3] !== h.remoteAddress || c[4] !== h.localAddress) {
    return false;
  }
  const hs = h.headers;
  for (let i = 0; i < hs.length; i++) if (c[5 + i] !== hs[i]) return false;
  return true;
}

function sameStrings(c: string[], list: string[]): boolean {
  for (let i = 0; i < list.length; i++) if (c[i] !== list[i]) return false;
  return true;
}

/** Largest string section (bytes) the caches keep a copy of; larger heads are always encoded/decoded in full. */
const MAX_SECTION = 2048;

/**
 * 32-bit word view of a Buffer (the ring's mapping, a socket chunk), made once per Buffer: the caches compare and
 * copy string sections a word at a time where the section is 4-byte aligned.
 */
class WordView {
  private b: Buffer | null = null;
  private words: Int32Array | null = null;

  /** The view over `b` (word k = bytes 4k..4k+3) if byte `p` of `b` is 4-byte aligned, else null. */
  at(b: Buffer, p: number): Int32Array | null {
    if (b !== this.b) {
      this.b = b;
      this.words = (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, b.length >>> 2) : null;
    }
    return (p & 3) === 0 ? this.words : null;
  }
}

/** A private copy of the last string section, as bytes and as 32-bit words. */
class Section {
  /** @internal */ n = -1;
  /** @internal */ readonly bytes = Buffer.alloc(MAX_SECTION);
  /** @internal */ readonly words = new Int32Array(this.bytes.buffer, this.bytes.byteOffset, MAX_SECTION >>> 2);
  /** @internal */ readonly view = new WordView();

  /** Keeps a copy of b[p, p+n) (or forgets the section when it is too large to keep). */
  save(b: Buffer, p: number, n: number): void {
    if (n > MAX_SECTION) {
      this.n = -1;
      return;
    }
    b.copy(this.bytes, 0, p, p + n);
    this.n = n;
  }

  /** Whether b[p, p+n) holds the saved section (n = its length, checked by the caller). */
  equals(b: Buffer, p: number, n: number): boolean {
    const w = this.view.at(b, p);
    let i = 0;
    if (w !== null) {
      const mine = this.words;
      const base = p >>> 2;
      const nw = n >>> 2;
      for (let k = 0; k < nw; k++) if (w[base + k] !== mine[k]) return false;
      i = nw << 2;
    }
    const bytes = this.bytes;
    for (; i < n; i++) if (b[p + i] !== bytes[i]) return false;
    return true;
  }

  /** Writes the saved section at b[p, p+n). */
  copyTo(b: Buffer, p: number): void {
    const n = this.n;
    const w = this.view.at(b, p);
    let i = 0;
    if (w !== null) {
      const mine = this.words;
      const base = p >>> 2;
      const nw = n >>> 2;
      for (let k = 0; k < nw; k++) w[base + k] = mine[k];
      i = nw << 2;
    }
    const bytes = this.bytes;
    for (; i < n; i++) b[p + i] = bytes[i];
  }
}

/**
 * Encoder-side memory of the last head written through it (one per sending end and frame kind). Consecutive heads
 * often carry the very same strings (the same header values of a keep-alive client, a fixed response head of an app):
 * when every string is the same as last time (`===`: a pointer comparison for the same string object), the encoded
 * string section is copied from a private copy instead of being written character by character.
 */
export class EncodeCache extends Section {
  /** @internal The strings of the saved section, in frame order (meaningful while `n` >= 0). */ strs: string[] = [];

  /** Remembers the section just encoded from `strs` (an array of our own). */
  /** @internal */ keep(b: Buffer, p: number, n: number, strs: string[]): void {
    this.save(b, p, n);
    this.strs = strs;
  }

  /** Whether the head's strings are those of the saved section (then they are strings, and it is `n` bytes long). */
  matchesRequest(h: RequestHead): boolean {
    const hs = h.headers;
    return this.n >= 0 && Array.isArray(hs) && this.strs.length === 5 + hs.length && sameRequestStrings(this.strs, h);
  }

  /** Whether `headers` are the strings of the saved section (a RESPONSE's). */
  matchesResponse(headers: string[]): boolean {
    return this.n >= 0 && Array.isArray(headers) && this.strs.length === headers.length && sameStrings(this.strs, headers);
  }

  /** Frame length of a RESPONSE whose headers match the saved section. */
  responseBytes(): number {
    return FRAME_HEADER + 4 + this.n;
  }

  /** Frame length of a REQUEST whose strings match the saved section (see matchesRequest). */
  requestBytes(): number {
    return FRAME_HEADER + 16 + this.n;
  }
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
  return checkRequestNumbers(h);
}

/** The number fields of checkRequestHead (its strings already known to be valid). */
export function checkRequestNumbers(h: RequestHead): string | null {
  const cl = h.contentLength;
  if (!Number.isSafeInteger(cl) || cl < -1) return 'contentLength must be an integer >= -1';
  if (!Number.isInteger(h.remotePort) || !Number.isInteger(h.localPort)) return 'ports must be integers';
  const c = h.connection;
  if (c !== undefined && (!Number.isInteger(c) || c < 0 || c > 0xffffffff)) return 'connection must be a u32';
  return null;
}

/**
 * Decoder-side memory of the last frames of one kind (one per receiving end). A string section that repeats the last
 * one byte for byte (same length, same header count) reuses its strings after a word-wise comparison. Otherwise the
 * strings at each position are compared with those decoded there last time: consecutive requests repeat most of them
 * at the same place (method, version, addresses, header names and many values), found in one pass without hashing or
 * allocating. Either way the bytes were validated when they were decoded in full.
 */
export class PositionCache extends Section {
  /** @internal */ readonly last: string[] = [];
  /** @internal Strings of the last fully decoded section (frame order) and its count field. */ whole: string[] = [];
  /** @internal */ pairs = -1;

  /** Remembers a section decoded in full: the next frame with the same bytes reuses its strings. */
  /** @internal */ keep(b: Buffer, p: number, n: number, pairs: number, strs: string[]): void {
    this.save(b, p, n);
    this.pairs = pairs;
    this.whole = strs;
  }

  /** The strings of b[p, p+n) if it repeats the last section decoded through this cache, else null. */
  /** @internal */ repeat(b: Buffer, p: number, n: number, pairs: number): string[] | null {
    return n === this.n && pairs === this.pairs && this.equals(b, p, n) ? this.whole : null;
  }
}

const MAX_CACHED_POSITIONS = 64;
const MAX_CACHED_LENGTH = 256;

/** Cursor over strings in a frame; every read is checked against the frame end. */
class StringReader {
  private k = 0;
  constructor(
    private readonly b: Buffer,
    public p: number,
    private readonly end: number,
    private readonly cache: PositionCache | null,
  ) {}
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
      const str = n <= INTERN_MAX_LEN ? decodeShort(b, s, n) : latin1Slice(b, s, s + n);
      if (n <= MAX_CACHED_LENGTH) cache.last[k] = str;
      return str;
    }
    return n <= INTERN_MAX_LEN ? decodeShort(b, s, n) : latin1Slice(b, s, s + n);
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
  const tls = (b[off + 5] & FLAG_TLS) !== 0;
  const connection = b.readUInt32LE(off + 12);
  const upgrade = (b[off + 5] & FLAG_UPGRADE) !== 0;
  const same = cache !== null ? cache.repeat(b, p, end - p, pairs) : null;
  if (same !== null) {
    return {
      method: same[0],
      target: same[1],
      httpVersion: same[2],
      headers: same.slice(5),
      remoteAddress: same[3],
      remotePort,
      localAddress: same[4],
      localPort,
      tls,
      upgrade,
      contentLength,
      connection,
    };
  }
  const r = new StringReader(b, p, end, cache);
  const method = r.next();
  const target = r.next();
  const httpVersion = r.next();
  const remoteAddress = r.next();
  const localAddress = r.next();
  const headers = new Array<string>(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) headers[i] = r.next();
  if (r.p !== end) throw protocolError('REQUEST frame has trailing bytes');
  if (cache !== null) cache.keep(b, p, end - p, pairs, [method, target, httpVersion, remoteAddress, localAddress, ...headers]);
  return {
    method,
    target,
    httpVersion,
    headers,
    remoteAddress,
    remotePort,
    localAddress,
    localPort,
    tls,
    upgrade,
    contentLength,
    connection,
  };
}

/** Frame length of a TRAILERS or INFO frame: header pairs as in RESPONSE. */
export function headerFrameBytes(headers: string[]): number {
  return FRAME_HEADER + 4 + stringsBytes(headers);
}

/** Writes a TRAILERS (arg 0) or INFO (arg = 1xx status) frame of `len` = headerFrameBytes(headers) bytes. */
export function encodeHeaderFrame(b: Buffer, off: number, len: number, type: number, stream: number, arg: number, headers: string[]): void {
  writeFrameHeader(b, off, len, type, 0, stream, arg);
  putU32(b, off + FRAME_HEADER, headers.length >>> 1);
  let p = off + FRAME_HEADER + 4;
  for (let i = 0; i < headers.length; i++) p = putString(b, p, headers[i]);
}

/** Decodes the header pairs of a TRAILERS or INFO frame (INFO's status, in arg, is checked to be 100..199 but 101). */
export function decodeHeaderFrame(b: Buffer, off: number, len: number): string[] {
  const end = off + len;
  const p = off + FRAME_HEADER + 4;
  if (p > end) throw protocolError('TRAILERS/INFO frame too short');
  if (b[off + 4] === FrameType.INFO) {
    const status = b.readUInt32LE(off + 12);
    if (status < 100 || status > 199 || status === 101) throw protocolError(`INFO status ${status} is not 1xx (101 excluded)`);
  }
  const pairs = b.readUInt32LE(p - 4);
  if (pairs > (end - p) / 8) throw protocolError('TRAILERS/INFO header count larger than the frame');
  const r = new StringReader(b, p, end, null);
  const headers = new Array<string>(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) headers[i] = r.next();
  if (r.p !== end) throw protocolError('TRAILERS/INFO frame has trailing bytes');
  return headers;
}

/** Frame length of a RESPONSE frame (`reason`: the phrase carried with FLAG_REASON, else null). */
export function responseFrameBytes(headers: string[], reason: string | null = null): number {
  return FRAME_HEADER + 4 + stringsBytes(headers) + (reason === null ? 0 : 4 + reason.length);
}

/**
 * Writes a whole RESPONSE frame (`cache`: as for {@link encodeRequest}). `reason` (FLAG_REASON) and `http10`
 * (FLAG_HTTP10) are the status-line extensions: only for a router that offers FEATURE_RESPONSE_LINE.
 */
export function encodeResponse(
  b: Buffer,
  off: number,
  len: number,
  stream: number,
  status: number,
  headers: string[],
  cache: EncodeCache | null = null,
  reason: string | null = null,
  http10 = false,
): void {
  const flags = (reason === null ? 0 : FLAG_REASON) | (http10 ? FLAG_HTTP10 : 0);
  if (reason !== null) cache = null; // the cached section holds headers only
  const w = cache !== null ? cache.view.at(b, off) : null;
  if (w !== null) {
    const i = off >>> 2;
    w[i] = len;
    w[i + 1] = FrameType.RESPONSE | (flags << 8);
    w[i + 2] = stream;
    w[i + 3] = status;
    w[i + 4] = headers.length >>> 1;
  } else {
    writeFrameHeader(b, off, len, FrameType.RESPONSE, flags, stream, status);
    putU32(b, off + FRAME_HEADER, headers.length >>> 1);
  }
  if (reason !== null) {
    let q = off + FRAME_HEADER + 4;
    for (let i = 0; i < headers.length; i++) q = putString(b, q, headers[i]);
    putString(b, q, reason);
    return;
  }
  let p = off + FRAME_HEADER + 4;
  const n = off + len - p;
  if (cache !== null && cache.n === n && cache.matchesResponse(headers)) {
    cache.copyTo(b, p);
    return;
  }
  const start = p;
  for (let i = 0; i < headers.length; i++) p = putString(b, p, headers[i]);
  if (cache !== null) cache.keep(b, start, n, headers.slice()); // a copy: the caller may change its array later
}

/** Decodes a RESPONSE frame: status (100..999), flat headers and the status-line extensions when flagged. */
export function decodeResponse(b: Buffer, off: number, len: number): { status: number; headers: string[]; reason?: string; http10?: boolean } {
  const flags = b[off + 5];
  const out: { status: number; headers: string[]; reason?: string; http10?: boolean } =
    flags & FLAG_REASON ? decodeResponseWithReason(b, off, len) : { status: b.readUInt32LE(off + 12), headers: decodeResponseHeaders(b, off, len, null) };
  if (flags & FLAG_HTTP10) out.http10 = true;
  return out;
}

/** Checks a RESPONSE frame's status and header count (`after`: bytes the strings after the headers need at least). */
function responsePairs(b: Buffer, off: number, len: number, after: number): number {
  const status = b.readUInt32LE(off + 12);
  if (status < 100 || status > 999) throw protocolError(`RESPONSE status ${status} out of range`);
  const p = off + FRAME_HEADER + 4;
  if (p > off + len) throw protocolError('RESPONSE frame too short');
  const pairs = b.readUInt32LE(p - 4);
  if (pairs > (off + len - p - after) / 8) throw protocolError('RESPONSE header count larger than the frame');
  return pairs;
}

/** Decodes a RESPONSE frame with FLAG_REASON: the reason phrase is the string after the header pairs. */
export function decodeResponseWithReason(b: Buffer, off: number, len: number): { status: number; headers: string[]; reason: string } {
  const end = off + len;
  const pairs = responsePairs(b, off, len, 4);
  const r = new StringReader(b, off + FRAME_HEADER + 4, end, null);
  const headers = new Array<string>(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) headers[i] = r.next();
  const reason = r.next();
  if (r.p !== end) throw protocolError('RESPONSE frame has trailing bytes');
  return { status: b.readUInt32LE(off + 12), headers, reason };
}

/** Checks a RESPONSE frame's status (read it with `b.readUInt32LE(off + 12)`) and decodes its flat headers. */
export function decodeResponseHeaders(b: Buffer, off: number, len: number, cache: PositionCache | null): string[] {
  const end = off + len;
  const p = off + FRAME_HEADER + 4;
  const pairs = responsePairs(b, off, len, 0);
  const same = cache !== null ? cache.repeat(b, p, end - p, pairs) : null;
  if (same !== null) return same.slice();
  const r = new StringReader(b, p, end, cache);
  const headers = new Array<string>(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) headers[i] = r.next();
  if (r.p !== end) throw protocolError('RESPONSE frame has trailing bytes');
  if (cache !== null) cache.keep(b, p, end - p, pairs, headers.slice());
  return headers;
}

/** A whole frame as a value (test vectors, debugging). */
export type Frame =
  | { type: 'REQUEST'; stream: number; head: RequestHead; connection?: number }
  | { type: 'RESPONSE'; stream: number; status: number; headers: string[]; reasonPhrase?: string; http10?: boolean }
  | { type: 'DATA'; stream: number; data: Buffer; end?: boolean }
  | { type: 'END'; stream: number }
  | { type: 'ABORT'; stream: number; reason: number }
  | { type: 'WINDOW'; stream: number; credit: number }
  | { type: 'READY'; capabilities?: number }
  | { type: 'SHUTDOWN' }
  | { type: 'CONN_CLOSED'; connection: number }
  | { type: 'TRAILERS'; stream: number; headers: string[] }
  | { type: 'INFO'; stream: number; status: number; headers: string[] };

/** Encodes one frame into a new Buffer, padded with zeros to a multiple of 8 bytes (its size in a ring). */
export function encodeFrame(f: Frame): Buffer {
  let len: number;
  switch (f.type) {
    case 'REQUEST':
      len = requestFrameBytes(f.head);
      break;
    case 'RESPONSE':
      len = responseFrameBytes(f.headers, f.reasonPhrase ?? null);
      break;
    case 'DATA':
      len = FRAME_HEADER + f.data.length;
      break;
    case 'TRAILERS':
    case 'INFO':
      len = headerFrameBytes(f.headers);
      break;
    default:
      len = FRAME_HEADER;
  }
  const b = Buffer.alloc(align8(len));
  switch (f.type) {
    case 'REQUEST':
      encodeRequest(b, 0, len, f.stream, f.connection ? { ...f.head, connection: f.connection } : f.head);
      break;
    case 'RESPONSE':
      encodeResponse(b, 0, len, f.stream, f.status, f.headers, null, f.reasonPhrase ?? null, f.http10 === true);
      break;
    case 'DATA':
      writeFrameHeader(b, 0, len, FrameType.DATA, f.end ? FLAG_END : 0, f.stream, 0);
      f.data.copy(b, FRAME_HEADER);
      break;
    case 'END':
      writeFrameHeader(b, 0, len, FrameType.END, 0, f.stream, 0);
      break;
    case 'ABORT':
      writeFrameHeader(b, 0, len, FrameType.ABORT, 0, f.stream, f.reason);
      break;
    case 'WINDOW':
      writeFrameHeader(b, 0, len, FrameType.WINDOW, 0, f.stream, f.credit);
      break;
    case 'READY':
      writeFrameHeader(b, 0, len, FrameType.READY, 0, 0, f.capabilities ?? 0);
      break;
    case 'SHUTDOWN':
      writeFrameHeader(b, 0, len, FrameType.SHUTDOWN, 0, 0, 0);
      break;
    case 'CONN_CLOSED':
      writeFrameHeader(b, 0, len, FrameType.CONN_CLOSED, 0, 0, f.connection);
      break;
    case 'TRAILERS':
      encodeHeaderFrame(b, 0, len, FrameType.TRAILERS, f.stream, 0, f.headers);
      break;
    case 'INFO':
      encodeHeaderFrame(b, 0, len, FrameType.INFO, f.stream, f.status, f.headers);
      break;
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
    case FrameType.REQUEST: {
      const { connection, ...head } = decodeRequest(b, 0, len);
      return connection ? { type: 'REQUEST', stream, head, connection } : { type: 'REQUEST', stream, head };
    }
    case FrameType.RESPONSE: {
      const { reason, ...r } = decodeResponse(b, 0, len);
      return reason === undefined ? { type: 'RESPONSE', stream, ...r } : { type: 'RESPONSE', stream, ...r, reasonPhrase: reason };
    }
    case FrameType.DATA: {
      const data = Buffer.from(b.subarray(FRAME_HEADER, len));
      return b[5] & FLAG_END ? { type: 'DATA', stream, data, end: true } : { type: 'DATA', stream, data };
    }
    case FrameType.END:
      return { type: 'END', stream };
    case FrameType.ABORT:
      return { type: 'ABORT', stream, reason: arg };
    case FrameType.WINDOW:
      return { type: 'WINDOW', stream, credit: arg };
    case FrameType.READY:
      return arg ? { type: 'READY', capabilities: arg } : { type: 'READY' };
    case FrameType.SHUTDOWN:
      return { type: 'SHUTDOWN' };
    case FrameType.CONN_CLOSED:
      return { type: 'CONN_CLOSED', connection: arg };
    case FrameType.TRAILERS:
      return { type: 'TRAILERS', stream, headers: decodeHeaderFrame(b, 0, len) };
    case FrameType.INFO:
      return { type: 'INFO', stream, status: arg, headers: decodeHeaderFrame(b, 0, len) };
    default:
      throw protocolError(`unknown frame type ${type}`);
  }
}
