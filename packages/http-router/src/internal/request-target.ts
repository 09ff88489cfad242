import { percentDecode } from './pattern';

/** True when a path needs no decoding and no dot/slash normalization (the common case, checked cheaply). */
function isPlainPath(p: string): boolean {
  let prev = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 37 /* % */ || (prev === 47 /* / */ && (c === 46 /* . */ || c === 47))) return false;
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

/** Decodes and normalizes one origin-form path; null when it must be refused. */
export function normalizePath(rawPath: string): string | null {
  if (isPlainPath(rawPath)) return rawPath;
  const decoded = percentDecode(rawPath, false);
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
