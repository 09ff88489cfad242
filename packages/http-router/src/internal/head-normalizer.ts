/**
 * Makes node:http take the request heads Unit takes and llhttp refuses, for every connection node:http serves: a head
 * whose lines all end in a bare LF, and a request line with spaces, control characters or bytes over 0x7e in the
 * target or surplus spaces around it (Unit: the version is the last word of the line, and only NUL, CR and LF are
 * refused in a target). Such a head is rewritten before node:http's parser sees it (CRLF line ends, each such byte
 * of the target as `%XX`); every other byte goes through as received.
 *
 * To know where heads start, the normaliser follows the request framing: a `Content-Length` body or a chunked body
 * (size lines, data, trailers) goes through untouched. Whenever its reading could differ from llhttp's, it rewrites
 * nothing and passes the rest of the connection through as it is (PASS), so node:http decides exactly as without
 * it: a head mixing CRLF and bare LF line ends (the request-smuggling shape: 400 from node:http), a bare CR,
 * obs-fold, `Transfer-Encoding` with `Content-Length` or other than a lone `chunked`, a second `Content-Length` or a
 * bad one, `Upgrade`, `CONNECT`, a head at or over the size limit, odd chunk framing. Rewriting therefore never
 * changes where node:http sees a message end.
 */

import type { Socket } from 'net';
import { TCHAR } from './fast-parser';
import { HeadBuffers, type HeadBufferLimits } from './head-buffers';
import { latin1Slice } from '@warden/latin1';

const HEAD = 0; // at the start of a request (leading CR/LF are passed through)
const REQUEST_LINE = 7; // after the method and its space
const FIELDS = 8; // field lines, up to the empty line
const LENGTH = 1; // inside a Content-Length body
const CHUNK_SIZE = 2; // expecting a chunk-size line
const CHUNK_DATA = 3; // inside chunk data
const CHUNK_END = 4; // expecting the CRLF after chunk data
const TRAILERS = 5; // trailer fields after the last chunk, up to an empty line
const PASS = 6; // everything as it is, to the end of the connection
const DROP = 9; // nothing more, to the end of the connection (a head refused for its size)

/** Longest chunk-size line (with extensions) followed; a longer one ends the normalising. */
const MAX_CHUNK_LINE = 4096;

const CRLF = Buffer.from('\r\n', 'latin1');
/** Replaces the final LF of a line. */
const CRLF_TAIL = CRLF;
const NUL = Buffer.from([0]);
const EMPTY = Buffer.alloc(0);

/** buf[at .. at+lower.length) equals `lower` ignoring ASCII case (`lower` is lower-case letters and '-'). */
function nameIs(buf: Buffer, at: number, end: number, lower: string): boolean {
  if (end - at !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if ((buf[at + i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** The request-head rewriter of one connection (see the file comment). */
export class HeadNormalizer {
  private state = HEAD;
  /** Bytes held back: an incomplete head, chunk-size line, chunk end or trailer section. */
  private held: Buffer | null = null;
  /** Body or chunk bytes still to pass (LENGTH, CHUNK_DATA). */
  private left = 0;
  // The head being read.
  /** Its lines end in a bare LF (rewritten to CRLF). */
  private lfHead = false;
  /** Bytes of it so far. */
  private headBytes = 0;
  private contentLength = -1;
  private teFields = 0;
  private chunked = false;
  /** Something after it is not followed (Upgrade, CONNECT, obs-fold, odd framing): PASS once it is complete. */
  private passAfter = false;
  /** Heads begun (1 = the first given to node:http). */
  private heads = 0;
  /** The targets as received of heads whose target was rewritten, by head number. */
  private targets: Map<number, string> | null = null;

  /** Unit's header buffers for the head being read (head-buffers.ts), or null. */
  private readonly buffers: HeadBuffers | null;

  /**
   * `maxHeadBytes`: node:http's header size limit; a head that long is passed as it is (node:http answers 431).
   * `limits`: a head Unit's header buffers refuse (head-buffers.ts) calls `onOverflow` and nothing more goes to
   * node:http.
   */
  constructor(
    private readonly maxHeadBytes: number,
    limits: HeadBufferLimits | null = null,
    private readonly onOverflow: () => void = () => undefined,
  ) {
    this.buffers = limits === null ? null : new HeadBuffers(limits);
  }

  /** True from a request's first byte until its head ended (as far as this normaliser follows the connection). */
  get inHead(): boolean {
    return this.state === REQUEST_LINE || this.state === FIELDS || (this.state === HEAD && this.held !== null);
  }

  /** True once the rest of the connection passes untouched. */
  get passing(): boolean {
    return this.state === PASS;
  }

  /**
   * The target as received of the `n`th head (1-based, counted from the first byte given to this normaliser) when
   * its bytes were encoded, else undefined; each is handed out once. node:http numbers its requests the same way.
   */
  originalTarget(n: number): string | undefined {
    const m = this.targets;
    if (m === null) return undefined;
    const t = m.get(n);
    if (t !== undefined) m.delete(n);
    return t;
  }

  /** The bytes node:http gets for `chunk` (the chunk itself when nothing changes; empty while a head is incomplete). */
  feed(chunk: Buffer): Buffer {
    if (this.state === PASS) return chunk;
    if (this.state === DROP) return EMPTY;
    let data = chunk;
    if (this.held !== null) {
      data = Buffer.concat([this.held, chunk]);
      this.held = null;
    }
    const len = data.length;
    let out: Buffer[] | null = null;
    let from = 0; // start of the bytes not yet put in `out`
    let p = 0;
    while (p < len) {
      switch (this.state) {
        case PASS:
          p = len;
          break;
        case LENGTH:
        case CHUNK_DATA: {
          const n = Math.min(this.left, len - p);
          p += n;
          this.left -= n;
          if (this.left === 0) this.state = this.state === LENGTH ? HEAD : CHUNK_END;
          break;
        }
        case CHUNK_END:
          if (len - p < 2) return this.hold(data, from, p, out);
          if (data[p] !== 13 || data[p + 1] !== 10) this.state = PASS;
          else {
            p += 2;
            this.state = CHUNK_SIZE;
          }
          break;
        case CHUNK_SIZE: {
          const lf = data.indexOf(10, p);
          if (lf === -1) {
            if (len - p > MAX_CHUNK_LINE) this.state = PASS;
            else return this.hold(data, from, p, out);
            break;
          }
          const size = chunkSize(data, p, lf);
          if (size < 0) this.state = PASS;
          else {
            p = lf + 1;
            if (size === 0) this.state = TRAILERS;
            else {
              this.left = size;
              this.state = CHUNK_DATA;
            }
          }
          break;
        }
        case TRAILERS: {
          // Lines ending in CRLF up to an empty one (a bare LF: llhttp's reading and ours could part, so PASS).
          let q = p;
          for (;;) {
            const lf = data.indexOf(10, q);
            if (lf === -1) {
              if (len - p >= this.maxHeadBytes) this.state = PASS;
              else return this.hold(data, from, p, out);
              break;
            }
            if (lf === q || data[lf - 1] !== 13) {
              this.state = PASS;
              break;
            }
            const empty = lf - 1 === q;
            q = lf + 1;
            if (empty) {
              p = q;
              this.state = HEAD;
              break;
            }
          }
          break;
        }
        case REQUEST_LINE:
        case FIELDS: {
          const lf = data.indexOf(10, p);
          if (lf === -1) {
            if (this.headBytes + len - p >= this.maxHeadBytes) this.state = PASS;
            else return this.hold(data, from, p, out);
            break;
          }
          const buffers = this.buffers;
          if (buffers !== null && !buffers.line(data, p, lf, this.headBytes, this.state === REQUEST_LINE)) {
            this.state = DROP;
            this.onOverflow();
            return this.emit(data, from, p, out);
          }
          this.headBytes += lf + 1 - p;
          if (this.headBytes >= this.maxHeadBytes) {
            this.state = PASS; // node:http answers 431
            break;
          }
          const r = this.state === REQUEST_LINE ? this.requestLine(data, p, lf) : this.field(data, p, lf);
          if (r !== null) {
            // The line is replaced by `r` (empty: by nothing; a NUL: refused by node:http).
            (out ??= []).push(data.subarray(from, p), r);
            from = lf + 1;
          }
          p = lf + 1;
          break;
        }
        default: {
          // HEAD: empty lines before a request are passed (llhttp skips them), then the method and its space go
          // at once (node:http's parser begins the request there: $request_time and its header timeout count).
          const c = data[p];
          if (c === 13 || c === 10) {
            p++;
            break;
          }
          let m = p;
          while (m < len && m - p < 32 && TCHAR[data[m]] === 1) m++;
          if (m === len && m - p < 32) return this.hold(data, from, p, out);
          if (m === p || data[m] !== 32) {
            this.state = PASS;
            break;
          }
          this.startHead(nameIs(data, p, m, 'connect'));
          this.headBytes = m + 1 - p;
          p = m + 1;
          this.state = REQUEST_LINE;
        }
      }
    }
    return this.emit(data, from, len, out);
  }

  /** End of input: whatever is held back, as it is. */
  end(): Buffer | null {
    const h = this.held;
    this.held = null;
    this.state = PASS;
    return h;
  }

  private hold(data: Buffer, from: number, p: number, out: Buffer[] | null): Buffer {
    this.held = Buffer.from(data.subarray(p)); // a copy: the socket's buffer is not ours to keep
    return this.emit(data, from, p, out);
  }

  private emit(data: Buffer, from: number, to: number, out: Buffer[] | null): Buffer {
    if (out === null) return from === 0 && to === data.length ? data : data.subarray(from, to);
    if (to > from) out.push(data.subarray(from, to));
    return Buffer.concat(out);
  }

  private startHead(connect: boolean): void {
    this.heads++;
    this.buffers?.reset();
    this.lfHead = false;
    this.headBytes = 0;
    this.contentLength = -1;
    this.teFields = 0;
    this.chunked = false;
    this.passAfter = connect;
  }

  /**
   * The rest of the request line, data[p .. lf] (the method and one space went already): null when it goes as it
   * is, else its replacement. Sets the head's line-end style from it.
   */
  private requestLine(data: Buffer, p: number, lf: number): Buffer | null {
    const lfOnly = lf === p || data[lf - 1] !== 13;
    this.lfHead = lfOnly;
    this.state = FIELDS;
    const end = lfOnly ? lf : lf - 1;
    for (let i = p; i < end; i++) {
      const c = data[i];
      if (c === 13 || c === 0) return this.refuse(lfOnly);
    }
    // As Unit: surplus spaces around the target are skipped, spaces inside it belong to it (the version is the
    // last word), and any byte but NUL, CR and LF is a target byte (llhttp refuses controls and bytes over 0x7e).
    // Rewritten only for an origin-form target and an HTTP/d.d version: each such byte goes to llhttp as %XX.
    let vs = end;
    while (vs > p && data[vs - 1] !== 32) vs--;
    let ts = p;
    while (ts < end && data[ts] === 32) ts++;
    if (vs <= ts) {
      // No version after the target (`GET /`): Unit answers 400 at the line's end, llhttp would wait for more.
      this.state = PASS;
      this.held = null;
      return NUL;
    }
    let te = vs - 1;
    while (te > ts && data[te - 1] === 32) te--;
    let encode = false;
    if (end - vs === 8 && data[vs] === 72 && data[vs + 4] === 47 && data[vs + 6] === 46 && te > ts && data[ts] === 47) {
      encode = ts !== p || te !== vs - 1;
      for (let i = ts; i < te && !encode; i++) encode = data[i] < 33 || data[i] > 126;
    }
    if (!encode) return lfOnly ? Buffer.concat([data.subarray(p, lf), CRLF_TAIL]) : null;
    const target = latin1Slice(data, ts, te);
    (this.targets ??= new Map()).set(this.heads, target);
    return Buffer.from(target.replace(/[^\x21-\x7e]/g, hexEscape) + ' ' + latin1Slice(data, vs, end) + '\r\n', 'latin1');
  }

  /** A field line (or the empty line ending the head), data[p .. lf]: null when it goes as it is, else its replacement. */
  private field(data: Buffer, p: number, lf: number): Buffer | null {
    const lfOnly = lf === p || data[lf - 1] !== 13;
    if (lfOnly !== this.lfHead) return this.refuse(this.lfHead); // CRLF and bare LF mixed: the smuggling shape
    const end = lfOnly ? lf : lf - 1;
    if (end === p) {
      this.endHead();
      return lfOnly ? CRLF : null;
    }
    for (let i = p; i < end; i++) if (data[i] === 13 || data[i] === 0) return this.refuse(lfOnly);
    const c0 = data[p];
    let colon = p;
    while (colon < end && TCHAR[data[colon]] === 1) colon++;
    if (c0 === 32 || c0 === 9 || colon === p || colon === end || data[colon] !== 58) {
      this.passAfter = true; // obs-fold or a bad name: node:http decides, nothing more is rewritten
    } else {
      let vs = colon + 1;
      let ve = end;
      while (vs < ve && (data[vs] === 32 || data[vs] === 9)) vs++;
      while (ve > vs && (data[ve - 1] === 32 || data[ve - 1] === 9)) ve--;
      switch (colon - p) {
        case 7:
          if (nameIs(data, p, colon, 'upgrade')) this.passAfter = true;
          break;
        case 14:
          if (nameIs(data, p, colon, 'content-length')) {
            if (this.contentLength !== -1 || ve === vs || ve - vs > 15) this.passAfter = true;
            let n = 0;
            for (let i = vs; i < ve; i++) {
              const d = data[i] - 48;
              if (d < 0 || d > 9) this.passAfter = true;
              n = n * 10 + d;
            }
            this.contentLength = n;
          }
          break;
        case 17:
          if (nameIs(data, p, colon, 'transfer-encoding')) {
            this.teFields++;
            this.chunked = nameIs(data, vs, ve, 'chunked');
          }
          break;
      }
    }
    return lfOnly ? Buffer.concat([data.subarray(p, lf), CRLF_TAIL]) : null;
  }

  /** The head is complete: what follows it. */
  private endHead(): void {
    const te = this.teFields;
    if (this.passAfter || te > 1 || (te === 1 && (!this.chunked || this.contentLength !== -1))) this.state = PASS;
    else if (te === 1) this.state = CHUNK_SIZE;
    else if (this.contentLength > 0) {
      this.left = this.contentLength;
      this.state = LENGTH;
    } else this.state = HEAD;
  }

  /**
   * A line node:http must refuse as it would without the normaliser. In a bare-LF head (whose earlier lines went
   * out with CRLF), a NUL makes llhttp refuse it (400); in a CRLF head the raw bytes do.
   */
  private refuse(lfHead: boolean): Buffer | null {
    this.state = PASS;
    this.held = null;
    return lfHead ? NUL : null;
  }
}

/** A chunk-size line data[p .. lf] (LF included): its size, or -1 when it is not `hex[;ext]CRLF` (or too big). */
/** `%XX` for one character of a latin1 string (a byte). */
function hexEscape(c: string): string {
  const n = c.charCodeAt(0);
  return (n < 16 ? '%0' : '%') + n.toString(16).toUpperCase();
}

function chunkSize(data: Buffer, p: number, lf: number): number {
  if (lf === p || data[lf - 1] !== 13) return -1;
  const end = lf - 1;
  let n = 0;
  let i = p;
  for (; i < end; i++) {
    const c = data[i];
    const d = c >= 48 && c <= 57 ? c - 48 : (c | 0x20) >= 97 && (c | 0x20) <= 102 ? (c | 0x20) - 87 : -1;
    if (d < 0) break;
    if (i - p >= 12) return -1;
    n = n * 16 + d;
  }
  if (i === p) return -1;
  if (i < end && data[i] !== 59 /* ; */) return -1;
  for (; i < end; i++) if (data[i] === 13) return -1;
  return n;
}

/**
 * Puts a HeadNormalizer between `sock` and node:http: every byte the socket reads from now on goes through it. Must
 * run before node:http gets the socket (it stops node:http's parser from reading the handle directly, which would
 * bypass it). Returns the normaliser (for bytes put back with `unshift`, which do not pass here).
 */
export function normalizeHeads(sock: Socket, maxHeadBytes: number, limits: HeadBufferLimits | null = null, onOverflow?: () => void): HeadNormalizer {
  const n = new HeadNormalizer(maxHeadBytes, limits, onOverflow);
  const handle = (sock as Socket & { _handle?: { _consumed?: boolean } | null })._handle;
  if (handle) handle._consumed = true; // node:http then reads through 'data' events, which come from push()
  const push = sock.push;
  sock.push = function (this: Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) {
      const rest = n.end();
      if (rest !== null) push.call(this, rest);
      return push.call(this, chunk, encoding);
    }
    if (n.passing || !Buffer.isBuffer(chunk)) return push.call(this, chunk, encoding);
    const out = n.feed(chunk);
    return out.length === 0 ? true : push.call(this, out);
  };
  return n;
}
