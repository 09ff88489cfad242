import { HEAD_FALLBACK, HEAD_INCOMPLETE, fallbackReason, parseHead, type LeanHead } from '../src/internal/fast-parser';

const MAX = 32 * 1024;

function head(): LeanHead {
  return { method: '', target: '', httpVersion: '', rawHeaders: [], contentLength: -1, keepAlive: false, lenient: false };
}

/** Parses `text` given in one piece. */
function parse(text: string, opts: { max?: number; discard?: boolean } = {}): { n: number; h: LeanHead; why: string } {
  const b = Buffer.from(text, 'latin1');
  const h = head();
  const n = parseHead(b, b.length, 0, opts.max ?? MAX, opts.discard ?? true, h);
  return { n, h, why: n === HEAD_FALLBACK ? fallbackReason : '' };
}

/** Feeds `text` one byte more at a time, as a connection does (searching only the new bytes). */
function parseSplit(text: string): { n: number; h: LeanHead; at: number } {
  const all = Buffer.from(text, 'latin1');
  let searched = 0;
  for (let len = 1; len <= all.length; len++) {
    const h = head();
    const n = parseHead(all.subarray(0, len), len, searched, MAX, true, h);
    if (n !== HEAD_INCOMPLETE) return { n, h, at: len };
    searched = len;
  }
  return { n: HEAD_INCOMPLETE, h: head(), at: all.length };
}

describe('parseHead: the common case', () => {
  const get = 'GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n';

  it('parses request line and fields', () => {
    const { n, h } = parse(get);
    expect(n).toBe(Buffer.byteLength(get));
    expect(h).toEqual({
      method: 'GET',
      target: '/a/b?x=1&y=%20',
      httpVersion: '1.1',
      rawHeaders: ['Host', 'example.com', 'User-Agent', 't/1', 'Accept', '*/*'],
      contentLength: 0,
      keepAlive: true,
      lenient: false,
    });
  });

  it('gives the same result whatever byte it is split at', () => {
    for (const text of [get, 'POST /p HTTP/1.0\r\nContent-Length: 12\r\nConnection: Keep-Alive\r\n\r\n', 'GET / HTTP/1.0\r\n\r\n']) {
      const whole = parse(text);
      const split = parseSplit(text);
      expect(split.n).toBe(whole.n);
      expect(split.at).toBe(Buffer.byteLength(text)); // complete only with the last byte
      expect(split.h).toEqual(whole.h);
    }
  });

  it('leaves pipelined requests and bodies after the head alone', () => {
    const a = 'POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n';
    const b = 'GET /two HTTP/1.1\r\nHost: x\r\n\r\n';
    const all = Buffer.from(a + 'hello' + b);
    const h = head();
    const n = parseHead(all, all.length, 0, MAX, true, h);
    expect(n).toBe(a.length);
    expect(h.contentLength).toBe(5);
    const rest = all.subarray(n + 5);
    const h2 = head();
    expect(parseHead(rest, rest.length, 0, MAX, true, h2)).toBe(b.length);
    expect(h2.target).toBe('/two');
  });

  it.each([
    ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', true],
    ['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', false],
    ['GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, CLOSE\r\n\r\n', false],
    ['GET / HTTP/1.0\r\n\r\n', false],
    ['GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n', true],
    ['GET / HTTP/1.0\r\nconnection: Keep-Alive , TE\r\n\r\n', true],
  ])('keep-alive of %j is %s', (text, keep) => {
    expect(parse(text).h.keepAlive).toBe(keep);
  });

  it('trims optional whitespace around values and keeps names as sent', () => {
    const { h } = parse('GET / HTTP/1.1\r\nhOsT:x\r\nX-A: \t a b \t\r\nX-Empty:\r\n\r\n');
    expect(h.rawHeaders).toEqual(['hOsT', 'x', 'X-A', 'a b', 'X-Empty', '']);
  });

  it('takes each method it knows, and Content-Length', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const { n, h } = parse(`${m} / HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n`);
      expect(n).toBeGreaterThan(0);
      expect(h.method).toBe(m);
      expect(h.contentLength).toBe(7);
    }
  });

  it('drops fields with unsafe names when told to', () => {
    const text = 'GET / HTTP/1.1\r\nHost: x\r\nX_Evil: 1\r\nX.Dot: 2\r\nX-Good: 3\r\n\r\n';
    expect(parse(text).h.rawHeaders).toEqual(['Host', 'x', 'X-Good', '3']);
    expect(parse(text, { discard: false }).h.rawHeaders).toEqual(['Host', 'x', 'X_Evil', '1', 'X.Dot', '2', 'X-Good', '3']);
  });

  it('is incomplete until the empty line', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: x\r\n').n).toBe(HEAD_INCOMPLETE);
    expect(parse('GET / HTTP/1.1\r\nHost: x\r\n\r').n).toBe(HEAD_INCOMPLETE);
    expect(parse('G').n).toBe(HEAD_INCOMPLETE);
  });
});

describe('parseHead: what Unit tolerates', () => {
  it('takes a head whose lines all end in a bare LF, split anywhere', () => {
    const text = 'GET /a?b=1 HTTP/1.1\nHost: x\nX-A:  v \n\nNEXT';
    const want = Buffer.byteLength(text) - 4;
    const { n, h } = parse(text);
    expect(n).toBe(want);
    expect(h).toMatchObject({ method: 'GET', target: '/a?b=1', httpVersion: '1.1', rawHeaders: ['Host', 'x', 'X-A', 'v'], lenient: true });
    const split = parseSplit(text.slice(0, want));
    expect([split.n, split.h.target]).toEqual([want, '/a?b=1']);
  });

  it.each([
    ['a space inside the target', 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', '/a b'],
    ['surplus spaces before and after the target', 'GET   /a   HTTP/1.1\r\nHost: x\r\n\r\n', '/a'],
    ['a target that holds " HTTP/1.1 "', 'GET /a HTTP/1.1 HTTP/1.1\r\nHost: x\r\n\r\n', '/a HTTP/1.1'],
  ])('takes %s as Unit does', (_n, text, target) => {
    const { n, h } = parse(text);
    expect(n).toBe(Buffer.byteLength(text));
    expect(h.target).toBe(target);
    expect(h.lenient).toBe(true);
  });

  it('takes HTTP/1.1 without Host; an ordinary head is not lenient', () => {
    expect(parse('GET / HTTP/1.1\r\nAccept: */*\r\n\r\n').h).toMatchObject({ rawHeaders: ['Accept', '*/*'], lenient: false });
  });
});

describe('parseHead: limits', () => {
  it('leaves a head at or over the size limit to node:http, complete or not', () => {
    const text = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(200)}\r\n\r\n`;
    const len = Buffer.byteLength(text);
    expect(parse(text, { max: len + 1 }).n).toBe(len);
    expect(parse(text, { max: len }).n).toBe(HEAD_FALLBACK);
    expect(parse(text.slice(0, 150), { max: 150 }).n).toBe(HEAD_FALLBACK);
    expect(parse(text.slice(0, 150), { max: 151 }).n).toBe(HEAD_INCOMPLETE);
  });

  it('leaves more than 100 fields to node:http', () => {
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join('');
    expect(parse(`GET / HTTP/1.1\r\nHost: x\r\n${fields(99)}\r\n`).n).toBeGreaterThan(0);
    expect(parse(`GET / HTTP/1.1\r\nHost: x\r\n${fields(100)}\r\n`).why).toBe('too many fields');
  });
});

describe('parseHead: everything else goes to node:http', () => {
  it.each([
    ['Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['Transfer-Encoding with Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n'],
    ['Expect', 'POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n'],
    ['Upgrade', 'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n'],
    ['Connection: upgrade', 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\r\n'],
    ['duplicate Content-Length', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n'],
    ['Content-Length with sign', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n'],
    ['Content-Length list', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n'],
    ['Content-Length empty', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n'],
    ['Content-Length huge', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999999999999\r\n\r\n'],
    ['duplicate Host', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['a Host with a slash (Unit: 400)', 'GET / HTTP/1.1\r\nHost: a/b\r\n\r\n'],
    ['a Host with an empty label (Unit: 400)', 'GET / HTTP/1.1\r\nHost: a..b\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  b\r\n\r\n'],
    ['space before colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
    ['empty field name', 'GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n'],
    ['line without colon', 'GET / HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n'],
    ['bare LF in a complete head', 'GET / HTTP/1.1\nHost: x\r\n\r\n'],
    ['CRLF in a head with bare LF line ends', 'GET / HTTP/1.1\nHost: x\r\nA: b\n\n'],
    ['a bare CR ending a line of an LF head', 'GET / HTTP/1.1\nHost: x\r\n\n'],
    ['bare CR in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n'],
    ['NUL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n'],
    ['obs-text in a value', 'GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n'],
    ['non-token byte in a name', 'GET / HTTP/1.1\r\nHost: x\r\nX(A): 1\r\n\r\n'],
    ['absolute-form target', 'GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['authority target', 'CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['high byte in target', 'GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['unknown method', 'PURGE / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['lower-case method', 'get / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: x\r\n\r\n'],
    ['HTTP/0.9 request line', 'GET /\r\n\r\n'],
    ['leading empty line', '\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['garbage', 'HELLO\r\n\r\n'],
  ])('%s', (_name, text) => {
    expect(parse(text).n).toBe(HEAD_FALLBACK);
    // Split anywhere, the answer is the same (or known sooner): never a lean request.
    expect(parseSplit(text).n).toBe(HEAD_FALLBACK);
  });

  it('spots a head mixing CRLF and bare LF line ends at once, complete or not', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: x\nA: b').why).toBe('bare LF in a head with CRLF line ends');
    expect(parse('GET / HTTP/1.1\nHost: x\n').n).toBe(HEAD_INCOMPLETE); // an LF head in progress
  });
});
