import { percentDecode } from './pattern';

/** A request target split into Unit's `$uri` (decoded, normalized) and the raw query. */
export interface ParsedTarget {
  path: string;
  query: string;
}

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
 * Splits and normalizes a request target as Unit does: percent-decoded, `.`/`..` resolved, adjacent slashes merged.
 * Returns null for a target a server must refuse with 400 (bad escape, NUL, `..` above the root, not origin-form).
 */
export function parseTarget(raw: string): ParsedTarget | null {
  let t = raw;
  if (t.charCodeAt(0) !== 47 /* / */) {
    const m = /^https?:\/\/[^/?#]*/i.exec(t);
    if (!m) return null;
    t = t.slice(m[0].length);
    if (t === '' || t[0] === '?') t = '/' + t;
  }
  const q = t.indexOf('?');
  const rawPath = q === -1 ? t : t.slice(0, q);
  const query = q === -1 ? '' : t.slice(q + 1);
  const path = normalizePath(rawPath);
  return path === null ? null : { path, query };
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
