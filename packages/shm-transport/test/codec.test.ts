import * as fs from 'fs';
import * as path from 'path';
import { decodeFrame, encodeFrame, Frame } from '../src';
import {
  decodeRequest,
  decodeResponseHeaders,
  EncodeCache,
  encodeRequest,
  encodeResponse,
  PositionCache,
  requestFrameBytes,
  responseFrameBytes,
} from '../src/internal/codec';
import type { RequestHead } from '../src';

const DIR = path.join(__dirname, 'vectors');
const vectors: { file: string; frame: Record<string, unknown> }[] = JSON.parse(fs.readFileSync(path.join(DIR, 'vectors.json'), 'utf8'));

function fromJson(f: Record<string, unknown>): Frame {
  if (f.type === 'REQUEST') {
    // Decoders always say whether the UPGRADE flag is set; the vectors name it only where it is.
    const head = f.head as Record<string, unknown>;
    return { ...f, head: { ...head, upgrade: head.upgrade === true } } as Frame;
  }
  return (f.type === 'DATA' ? { ...f, data: Buffer.from(f.data as string, 'hex') } : f) as Frame;
}

describe('frame codec against the shared test vectors', () => {
  it.each(vectors.map((v) => [v.file, v]))('%s decodes to the vector and re-encodes byte for byte', (_f, v) => {
    const bin = fs.readFileSync(path.join(DIR, v.file));
    expect(bin.length % 8).toBe(0);
    expect(decodeFrame(bin)).toEqual(fromJson(v.frame));
    expect(encodeFrame(fromJson(v.frame)).equals(bin)).toBe(true);
  });

  it('lays out a REQUEST exactly as PROTOCOL.md describes', () => {
    const b = fs.readFileSync(path.join(DIR, 'request-get.bin'));
    expect(b.readUInt32LE(0)).toBe(100); // length, unpadded
    expect(b[4]).toBe(1); // type REQUEST
    expect(b[5]).toBe(0); // flags: no TLS
    expect(b.readUInt16LE(6)).toBe(0);
    expect(b.readUInt32LE(8)).toBe(1); // stream
    expect(b.readUInt32LE(12)).toBe(0); // arg
    expect(b.readBigInt64LE(16)).toBe(0n); // content length
    expect(b.readUInt16LE(24)).toBe(54321); // remote port
    expect(b.readUInt16LE(26)).toBe(8080); // local port
    expect(b.readUInt32LE(28)).toBe(1); // header pairs
    expect(b.readUInt32LE(32)).toBe(3);
    expect(b.toString('latin1', 36, 39)).toBe('GET');
    expect(b.subarray(100).equals(Buffer.alloc(4))).toBe(true); // zero padding to 104
    const chunked = fs.readFileSync(path.join(DIR, 'request-post-tls-chunked.bin'));
    expect(chunked[5]).toBe(1); // TLS flag
    expect(chunked.readBigInt64LE(16)).toBe(-1n); // unknown length = all ones
  });

  it('lays out a RESPONSE with a reason phrase and an HTTP/1.0 status line as PROTOCOL.md describes', () => {
    const b = fs.readFileSync(path.join(DIR, 'response-reason.bin'));
    expect(b[5]).toBe(1); // flags: REASON
    expect(b.readUInt32LE(12)).toBe(299); // status in arg
    expect(b.readUInt32LE(16)).toBe(1); // header pairs
    expect(b.readUInt32LE(32)).toBe(13); // after "X-A", "1": the reason phrase
    expect(b.toString('latin1', 36, 49)).toBe('Custom Reason');
    expect(fs.readFileSync(path.join(DIR, 'response-http10-reason.bin'))[5]).toBe(3); // REASON | HTTP10
  });

  it('lays out the upgrade extensions as PROTOCOL.md describes (REQUEST flag bit 1, READY capabilities in arg)', () => {
    const req = fs.readFileSync(path.join(DIR, 'request-upgrade.bin'));
    expect(req[5]).toBe(3); // TLS | UPGRADE
    expect(req.readBigInt64LE(16)).toBe(-1n); // the client's bytes after the head: unknown length
    const ready = fs.readFileSync(path.join(DIR, 'ready-upgrade.bin'));
    expect(ready[4]).toBe(7);
    expect(ready.readUInt32LE(12)).toBe(2); // capability bit 1: UPGRADE
  });

  it('keeps header bytes as latin1 (one byte per character)', () => {
    const f = decodeFrame(fs.readFileSync(path.join(DIR, 'request-post-tls-chunked.bin'))) as Extract<Frame, { type: 'REQUEST' }>;
    expect(f.head.headers[7]).toBe('caf\u00e9');
  });

  it('rejects every truncation of a valid REQUEST and RESPONSE', () => {
    for (const file of ['request-post-tls-chunked.bin', 'response-200.bin', 'response-reason.bin', 'trailers.bin', 'info-103.bin']) {
      const bin = fs.readFileSync(path.join(DIR, file));
      const len = bin.readUInt32LE(0);
      for (let cut = 16; cut < len; cut++) {
        const t = Buffer.from(bin.subarray(0, cut));
        t.writeUInt32LE(cut, 0);
        expect(() => decodeFrame(t)).toThrow(/WARDEN_ERR_SHM_PROTOCOL/);
      }
    }
  });

  it('rejects unknown types, bad lengths and out-of-range statuses', () => {
    const ready = encodeFrame({ type: 'READY' });
    expect(() => decodeFrame(Buffer.concat([ready.subarray(0, 4), Buffer.from([99]), ready.subarray(5)]))).toThrow(/unknown frame type 99/);
    const short = Buffer.from(ready);
    short.writeUInt32LE(8, 0);
    expect(() => decodeFrame(short)).toThrow(/length 8/);
    const resp = encodeFrame({ type: 'RESPONSE', stream: 1, status: 200, headers: [] });
    resp.writeUInt32LE(42, 12);
    expect(() => decodeFrame(resp)).toThrow(/status 42/);
    const huge = encodeFrame({ type: 'RESPONSE', stream: 1, status: 200, headers: ['a', 'b'] });
    huge.writeUInt32LE(0x7fffffff, 16);
    expect(() => decodeFrame(huge)).toThrow(/header count/);
  });
});

describe('decoding with a position cache (strings repeated at the same place reused without allocating)', () => {
  const head = (over: Partial<RequestHead>): RequestHead => ({
    method: 'GET',
    target: '/a',
    httpVersion: '1.1',
    headers: ['host', 'x', 'accept', '*/*'],
    remoteAddress: '10.0.0.1',
    remotePort: 1,
    localAddress: '10.0.0.2',
    localPort: 2,
    tls: false,
    upgrade: false,
    contentLength: 0,
    connection: 0,
    ...over,
  });
  const roundTrip = (h: RequestHead, cache: PositionCache): RequestHead => {
    const len = requestFrameBytes(h);
    const b = Buffer.alloc(len);
    encodeRequest(b, 0, len, 1, h);
    return decodeRequest(b, 0, len, cache);
  };

  it('decodes every request right whatever changed since the last one (same length, other bytes; longer; shorter; fewer headers)', () => {
    const cache = new PositionCache();
    const seq = [
      head({}),
      head({ method: 'PUT', target: '/b' }), // same lengths, other bytes
      head({ target: '/a-much-longer-target?with=query', headers: ['host', 'y', 'accept', '*/*', 'x-extra', 'v'] }),
      head({ headers: [] }),
      head({ headers: ['Host', 'x', 'Accept', '*/*'], remoteAddress: '::1' }),
      head({ target: 'ü'.repeat(300), headers: ['h', 'é'.repeat(400)] }), // longer than what is cached
      head({}),
    ];
    for (const h of seq) expect(roundTrip(h, cache)).toEqual(h);
  });

  it('returns the very same string object for a repeated value', () => {
    const cache = new PositionCache();
    const a = roundTrip(head({}), cache);
    const b = roundTrip(head({ target: '/other' }), cache);
    expect(b.method).toBe(a.method);
    expect(b.headers[2]).toBe(a.headers[2]);
    expect(b.target).toBe('/other');
  });

  /** A Buffer of `len` bytes starting `shift` bytes into its memory (shift 1: nothing 4-byte aligned). */
  const at = (len: number, shift: number): Buffer => Buffer.alloc(len + 8).subarray(shift, shift + len);

  it('reuses the strings of a section that repeats the last one, and decodes in full when any byte differs', () => {
    for (const shift of [0, 1, 4]) {
      const h = head({ target: '/abc?d=e', headers: ['host', 'example', 'content-type', 'text/plain', 'x', 'yz'] });
      const len = requestFrameBytes(h);
      const b = at(len, shift);
      encodeRequest(b, 0, len, 1, h);
      const cache = new PositionCache();
      const first = decodeRequest(b, 0, len, cache);
      const again = decodeRequest(b, 0, len, cache);
      expect(again).toEqual(h);
      expect(again.target).toBe(first.target);
      expect(again.headers).not.toBe(first.headers); // a fresh array: callers may change theirs
      again.headers.push('mutated');
      expect(decodeRequest(b, 0, len, cache).headers).toEqual(h.headers);
      // Flip each byte of the string section in turn (lengths included): the result equals an uncached decode.
      for (let i = 32; i < len; i++) {
        const m = Buffer.from(b);
        const mutated = at(len, shift);
        m.copy(mutated);
        mutated[i] ^= 0x20;
        let plain: unknown;
        try {
          plain = decodeRequest(mutated, 0, len, null);
        } catch (e) {
          plain = (e as Error).message;
        }
        let cached: unknown;
        try {
          cached = decodeRequest(mutated, 0, len, cache);
        } catch (e) {
          cached = (e as Error).message;
        }
        expect(cached).toEqual(plain);
        expect(decodeRequest(b, 0, len, cache)).toEqual(h); // and back to the original
      }
    }
  });

  it('encodes through an EncodeCache exactly as without it, whatever changed, into aligned and unaligned memory', () => {
    const cache = new EncodeCache();
    const hs = ['host', 'x', 'accept', '*/*'];
    const seq = [
      head({ headers: hs }),
      head({ headers: hs }), // same strings: copied
      head({ headers: hs, remotePort: 9, contentLength: 5, tls: true }), // fixed fields change, strings do not
      head({ headers: hs, target: '/b' }), // same length, other string
      head({ headers: ['host', 'x'] }),
      head({ headers: ['host', 'x', 'accept', '*/*'] }), // equal strings, other objects
      head({ target: 'ü'.repeat(3000) }), // larger than what the cache keeps
      head({ target: 'ü'.repeat(3000) }),
      head({}),
    ];
    let shift = 0;
    for (const h of seq) {
      const len = requestFrameBytes(h);
      const want = Buffer.alloc(len);
      encodeRequest(want, 0, len, 7, h);
      const got = at(len, (shift = (shift + 1) % 5));
      encodeRequest(got, 0, len, 7, h, cache);
      expect(got.equals(want)).toBe(true);
      expect(decodeRequest(got, 0, len)).toEqual(h);
    }
    const rcache = new EncodeCache();
    for (const headers of [['a', 'b'], ['a', 'b'], ['a', 'c'], [], ['content-type', 'text/plain'], ['content-type', 'text/plain']]) {
      const len = responseFrameBytes(headers);
      const want = Buffer.alloc(len);
      encodeResponse(want, 0, len, 3, 200, headers);
      const got = at(len, (shift = (shift + 1) % 5));
      encodeResponse(got, 0, len, 3, 200, headers, rcache);
      expect(got.equals(want)).toBe(true);
    }
  });

  it('decodes RESPONSE headers with the cache, still rejecting a bad status', () => {
    const cache = new PositionCache();
    for (const hs of [['content-type', 'text/plain'], ['content-type', 'text/html', 'x', 'y'], []]) {
      const len = responseFrameBytes(hs);
      const b = Buffer.alloc(len);
      encodeResponse(b, 0, len, 3, 200, hs);
      expect(decodeResponseHeaders(b, 0, len, cache)).toEqual(hs);
      b.writeUInt32LE(1000, 12);
      expect(() => decodeResponseHeaders(b, 0, len, cache)).toThrow(/status 1000/);
    }
  });
});
