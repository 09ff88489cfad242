/**
 * The lean path's HTTP/1.1 request-head parser. It handles the common case completely and refuses everything else:
 * whatever it does not accept (Transfer-Encoding, Expect, Upgrade, obs-fold, a head mixing CRLF and bare LF line ends,
 * control or non-ASCII bytes,
 * duplicate Content-Length or Host, a Host Unit refuses, targets that are not origin-form, unknown methods, heads at
 * or over the size limit, ...)
 * is reported as FALLBACK and the connection is handed to node:http, whose parser answers it (400, 431, ...) or
 * serves it. So the lean path never has to decide a hard case, and never accepts what node:http would refuse.
 */

import { isValidHost } from './request-target';
import { latin1Slice } from '@warden/latin1';

/** More bytes are needed. */
export const HEAD_INCOMPLETE = 0;
/** Not for the lean path: hand the connection (these bytes included) to node:http. */
export const HEAD_FALLBACK = -1;

/** What parseHead fills in for one request. */
export interface LeanHead {
  method: string;
  target: string;
  /** '1.1' or '1.0'. */
  httpVersion: string;
  /** Flat [name, value, ...] as received (latin1), minus unsafe fields when those are discarded. */
  rawHeaders: string[];
  /** Content-Length, 0 when absent. */
  contentLength: number;
  /** The client asked to keep the connection (HTTP/1.1 default, HTTP/1.0 with `Connection: keep-alive`). */
  keepAlive: boolean;
  /**
   * The head is one Unit takes and llhttp does not (bare LF line ends, spaces in or around the target); handed to
   * node:http, it is rewritten on the way (HeadNormalizer).
   */
  lenient: boolean;
}

/** Why the last parseHead call returned FALLBACK (for tests and debug logs). */
export let fallbackReason = '';

// Byte classes.
/** RFC 9110 token characters (1), by byte. */
export const TCHAR = new Uint8Array(256);
const SAFE_NAME = new Uint8Array(256); // letters, digits, '-' (Unit's discard_unsafe_fields keeps only these)
for (let c = 0; c < 256; c++) {
  const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (alnum || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))) TCHAR[c] = 1;
  if (alnum || c === 45) SAFE_NAME[c] = 1;
}

/** Methods taken on the lean path (interned: no string allocated for them). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'];

/** Largest number of header fields taken on the lean path. */
const MAX_FIELDS = 100;

function fallback(why: string): number {
  fallbackReason = why;
  return HEAD_FALLBACK;
}

/**
 * Looks for a whole request head in `buf[0..len)`, searching for its end from `searchFrom` (bytes before it were
 * searched already). Returns the head's length in bytes (its final CRLF CRLF included) with `out` filled,
 * HEAD_INCOMPLETE, or HEAD_FALLBACK. `maxHeadBytes`: a head this long or longer is left to node:http (which
 * answers 431 past its own limit).
 */
export function parseHead(buf: Buffer, len: number, searchFrom: number, maxHeadBytes: number, discardUnsafe: boolean, out: LeanHead): number {
  if (len === 0) return HEAD_INCOMPLETE;
  const c0 = buf[0];
  if (c0 < 65 || c0 > 90) return fallback('request does not start with an upper-case method');
  let end = buf.indexOf('\r\n\r\n', searchFrom > 3 ? searchFrom - 3 : 0, 'latin1');
  if (end === -1 || end >= len) {
    // Unit also takes heads whose lines end in a bare LF. Taken here only when no line ends in CRLF: a head mixing
    // the two is how a request is smuggled past a proxy that splits lines at CRLF only, so it goes to node:http
    // (400).
    const lf = buf.indexOf('\n\n', searchFrom > 1 ? searchFrom - 1 : 0, 'latin1');
    if (lf !== -1 && lf + 1 < len) {
      const lfEnd = lf + 2;
      if (lfEnd >= maxHeadBytes) return fallback('head too large');
      for (let i = 0; i < lfEnd; i++) if (buf[i] === 13) return fallback('CR in a head with bare LF line ends');
      const t = latin1Slice(buf, 0, lfEnd - 1); // each line ending in LF
      return parseLines(t, lfEnd, '\n', discardUnsafe, out);
    }
    if (len >= maxHeadBytes) return fallback('head too large');
    if (lineWithoutVersion(buf, len)) return fallback('request line without a version'); // 400 at once, as Unit
    for (let i = searchFrom > 0 ? searchFrom : 0; i < len; i++) {
      if (buf[i] === 10 && (i === 0 || buf[i - 1] !== 13)) {
        // A bare LF: an LF-terminated head in progress, unless a line already ended in CRLF (mixed).
        for (let k = 0; k < len; k++) if (buf[k] === 13) return fallback('bare LF in a head with CRLF line ends');
        break;
      }
    }
    return HEAD_INCOMPLETE;
  }
  end += 4;
  if (end >= maxHeadBytes) return fallback('head too large');
  const s = latin1Slice(buf, 0, end - 2); // request line and fields, each ending in CRLF
  return parseLines(s, end, '\r\n', discardUnsafe, out);
}

/** The request line in buf[0..len) is complete and has no version after its target (`GET /`). */
function lineWithoutVersion(buf: Buffer, len: number): boolean {
  const nl = buf.indexOf(10);
  if (nl === -1 || nl >= len) return false;
  const sp = buf.indexOf(32);
  if (sp === -1 || sp > nl) return false; // no target either: node:http decides
  let i = sp;
  while (i < nl && buf[i] === 32) i++;
  const next = buf.indexOf(32, i);
  return next === -1 || next > nl;
}

function parseLines(s: string, headBytes: number, eol: string, discardUnsafe: boolean, out: LeanHead): number {
  // Request line: METHOD SP+ origin-form SP+ HTTP/1.x EOL. As Unit (nxt_http_parse_request_line): surplus spaces
  // around the target are skipped, and spaces inside it are part of it (the version is the line's last word).
  const sp1 = s.indexOf(' ');
  if (sp1 < 3 || sp1 > 7) return fallback('method');
  let method: string | null = null;
  for (let i = 0; i < METHODS.length; i++) {
    const m = METHODS[i];
    if (m.length === sp1 && s.startsWith(m)) {
      method = m;
      break;
    }
  }
  if (method === null) return fallback('method not taken on the lean path');
  const lineEnd = s.indexOf(eol);
  const vStart = lineEnd - 8;
  if (vStart <= sp1 + 1 || s.charCodeAt(vStart - 1) !== 32) return fallback('request line');
  let ts = sp1 + 1;
  while (s.charCodeAt(ts) === 32) ts++;
  let te = vStart - 1;
  while (te > ts && s.charCodeAt(te - 1) === 32) te--;
  if (te <= ts) return fallback('request line');
  if (s.charCodeAt(ts) !== 47 /* / */) return fallback('not origin-form');
  let lenient = eol.length === 1 || ts !== sp1 + 1 || te !== vStart - 1;
  for (let i = ts; i < te; i++) {
    const c = s.charCodeAt(i);
    if (c === 32) lenient = true;
    else if (c < 32 || c >= 127) return fallback('byte in target');
  }
  let version: string;
  if (s.startsWith('HTTP/1.1', vStart)) version = '1.1';
  else if (s.startsWith('HTTP/1.0', vStart)) version = '1.0';
  else return fallback('version');
  const target = s.slice(ts, te);

  // Header fields: name ":" OWS value OWS CRLF
  const raw: string[] = [];
  let contentLength = -1;
  let host = false;
  let connClose = false;
  let connKeepAlive = false;
  let fields = 0;
  const eolLen = eol.length;
  let p = lineEnd + eolLen;
  const total = s.length;
  while (p < total) {
    const e = s.indexOf(eol, p);
    // `s` ends with an EOL, so e >= p.
    if (++fields > MAX_FIELDS) return fallback('too many fields');
    let colon = -1;
    let safe = true;
    for (let i = p; i < e; i++) {
      const c = s.charCodeAt(i);
      if (c === 58 /* : */) {
        colon = i;
        break;
      }
      if (TCHAR[c] === 0) return fallback('byte in field name'); // also catches obs-fold (leading SP/HT)
      if (SAFE_NAME[c] === 0) safe = false;
    }
    if (colon <= p) return fallback('field without name or colon');
    let vs = colon + 1;
    let ve = e;
    while (vs < ve && (s.charCodeAt(vs) === 32 || s.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (s.charCodeAt(ve - 1) === 32 || s.charCodeAt(ve - 1) === 9)) ve--;
    for (let i = vs; i < ve; i++) {
      const c = s.charCodeAt(i);
      if ((c < 32 && c !== 9) || c >= 127) return fallback('byte in field value');
    }
    const nameLen = colon - p;
    const name = s.slice(p, colon);
    const value = s.slice(vs, ve);
    switch (nameLen) {
      case 4:
        if (lowerIs(s, p, 'host')) {
          if (host) return fallback('duplicate Host');
          if (!isValidHost(value)) return fallback('invalid Host');
          host = true;
        }
        break;
      case 6:
        if (lowerIs(s, p, 'expect')) return fallback('Expect');
        break;
      case 7:
        if (lowerIs(s, p, 'upgrade')) return fallback('Upgrade');
        break;
      case 10:
        if (lowerIs(s, p, 'connection')) {
          const v = value.toLowerCase();
          for (const tok of v.split(',')) {
            const t = tok.trim();
            if (t === 'close') connClose = true;
            else if (t === 'keep-alive') connKeepAlive = true;
            else if (t === 'upgrade') return fallback('Connection: upgrade');
          }
        }
        break;
      case 14:
        if (lowerIs(s, p, 'content-length')) {
          if (contentLength !== -1) return fallback('duplicate Content-Length');
          if (value.length === 0 || value.length > 15) return fallback('Content-Length');
          let n = 0;
          for (let i = 0; i < value.length; i++) {
            const d = value.charCodeAt(i) - 48;
            if (d < 0 || d > 9) return fallback('Content-Length');
            n = n * 10 + d;
          }
          contentLength = n;
        }
        break;
      case 17:
        if (lowerIs(s, p, 'transfer-encoding')) return fallback('Transfer-Encoding');
        break;
    }
    if (safe || !discardUnsafe) raw.push(name, value);
    p = e + eolLen;
  }
  out.method = method;
  out.target = target;
  out.httpVersion = version;
  out.rawHeaders = raw;
  out.contentLength = contentLength === -1 ? 0 : contentLength;
  out.keepAlive = version === '1.1' ? !connClose : connKeepAlive && !connClose;
  out.lenient = lenient;
  return headBytes;
}

/** s[at .. at+lower.length) equals `lower` ignoring ASCII case (`lower` is lower-case letters and '-'). */
export function lowerIs(s: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((s.charCodeAt(at + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
