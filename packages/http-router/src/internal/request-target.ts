import { percentDecode } from './pattern';

/** True when a path needs no decoding and no dot/slash normalization (the common case, checked cheaply). */
function isPlainPath(p: string): boolean {
  let prev = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 37 /* % */ || c > 127 || (prev === 47 /* / */ && (c === 46 /* . */ || c === 47))) return false;
    prev = c;
  }
  return true;
}

/**
 * Unit's check of a Host field value (nxt_http_validate_host): a `/` anywhere or an empty label (`a..b`) is a
 * 400. Everything else is taken as it is.
 */
export function isValidHost(h: string): boolean {
  return h.indexOf('/') === -1 && h.indexOf('..') === -1;
}

/**
 * The length of an origin-form target's path, as Unit reads it (nxt_http_parse_complex_target): it ends at the first
 * `?` or raw `#`. A `#` after the `?` ends the query (see {@link queryOf}); what follows a raw `#` is neither
 * (`%23` is an escaped `#` and stays in the path).
 */
export function pathLength(t: string): number {
  const q = t.indexOf('?');
  const h = t.indexOf('#');
  return h !== -1 && (q === -1 || h < q) ? h : q === -1 ? t.length : q;
}

/** The query of an origin-form target (without its `?`) given its {@link pathLength}: up to a raw `#`. */
export function queryOf(t: string, pathEnd: number): string {
  if (pathEnd === t.length || t.charCodeAt(pathEnd) !== 63 /* ? */) return '';
  const h = t.indexOf('#', pathEnd);
  return t.slice(pathEnd + 1, h === -1 ? t.length : h);
}

/**
 * A target built from config text and variables (`rewrite`) as request bytes, a byte per character as node:http
 * reads heads and apps are sent them: a character over U+00FF (config text, a decoded `$uri`) becomes its UTF-8.
 */
export function targetBytes(t: string): string {
  if (!/[\u0100-\uffff]/.test(t)) return t;
  let out = '';
  for (const ch of t) out += ch.charCodeAt(0) < 256 ? ch : Buffer.from(ch, 'utf8').toString('latin1');
  return out;
}

/** Decodes and normalizes one origin-form path; null when it must be refused. */
export function normalizePath(rawPath: string): string | null {
  if (isPlainPath(rawPath)) return rawPath;
  const decoded = percentDecode(rawPath, false, true);
  if (decoded === null || decoded.indexOf('\0') !== -1) return null;
  if (decoded.indexOf('/.') === -1 && decoded.indexOf('//') === -1) return decoded;
  const parts = decoded.split('/');
  const out: string[] = [];
  let trailing = false;
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i];
    const last = i === parts.length - 1;
    if (seg === '' || seg === '.') {
      if (last) trailing = true;
      continue;
    }
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      if (last) trailing = true;
      continue;
    }
    out.push(seg);
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailing ? '/' : '');
}

/** Bytes Unit percent-encodes in a URI (nxt_uri_escape): controls, SP " # % < > ? \ ^ ` { | } DEL and non-ASCII. */
const URI_ESCAPE = new Uint8Array(256);
for (let c = 0; c < 256; c++) URI_ESCAPE[c] = c < 0x20 || c >= 0x7f || ' "#%<>?\\^`{|}'.includes(String.fromCharCode(c)) ? 1 : 0;

function hexDigit(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102);
}

/**
 * A `return` action's `location` as Unit sends it (nxt_http_return_encode): left as it is when already a valid
 * encoded URI, else every byte of the escape set is percent-encoded, except the first `?` (the query) and the
 * first `#` after it or without one (the fragment). `/?:/?#` → `/?:/%3F#`; `/##foo?bar` → `/#%23foo%3Fbar`.
 */
export function encodeLocation(location: string): string {
  const b = Buffer.from(location, 'utf8');
  // Reserved characters still allowed once: 2 = `?` and `#`, 1 = `#` only, 0 = none.
  let reserved = 2;
  let encoded = true;
  for (let i = 0; i < b.length && encoded; i++) {
    const c = b[i];
    if (URI_ESCAPE[c] === 0) continue;
    if (c === 37 /* % */) {
      if (i + 2 < b.length && hexDigit(b[i + 1]) && hexDigit(b[i + 2])) i += 2;
      else encoded = false;
    } else if (c === 63 /* ? */ && reserved === 2) reserved = 1;
    else if (c === 35 /* # */ && reserved > 0) reserved = 0;
    else encoded = false;
  }
  if (encoded) return location;
  let out = '';
  reserved = 2;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (URI_ESCAPE[c] === 0 || (c === 63 && reserved === 2)) {
      if (c === 63) reserved = 1;
      out += String.fromCharCode(c);
    } else if (c === 35 && reserved > 0) {
      reserved = 0;
      out += '#';
    } else out += '%' + (c < 16 ? '0' : '') + c.toString(16).toUpperCase();
  }
  return out;
}
