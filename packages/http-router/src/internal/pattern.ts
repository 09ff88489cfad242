import { MATCH_ERROR, RouterConfigError } from './errors';

/** A compiled test of one string value. */
export type StringTest = (value: string) => boolean;

/** How a match key treats case and encoding; fixed per key, as in Unit. */
export interface PatternMode {
  /** Fold the pattern to this case; the caller folds the tested value the same way. */
  fold: 'none' | 'lower' | 'upper';
  /** Percent-decode the pattern (`uri`: plain, `arguments`/`query`: `+` is a space too). */
  decode: 'none' | 'uri' | 'form';
}

interface OnePattern {
  negative: boolean;
  test: StringTest;
}

const NON_ASCII = /[\u0080-\uffff]/;

/**
 * Percent-decodes `s` into the string of the UTF-8 it spells; `plus` also turns `+` into a space. Returns null for a
 * malformed escape. `raw`: `s` comes from a request (a byte per character, as node:http reads heads), so a byte over
 * 0x7f taken as it is decodes as its escape would, as in Unit, where `/ди` and `/%D0%B4%D0%B8` are one path; else
 * (config text) a character is its UTF-8.
 */
export function percentDecode(s: string, plus: boolean, raw = false): string | null {
  if (s.indexOf('%') === -1 && !(raw && NON_ASCII.test(s))) return plus && s.indexOf('+') !== -1 ? s.replace(/\+/g, ' ') : s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      const h = hex(s.charCodeAt(i + 1));
      const l = hex(s.charCodeAt(i + 2));
      if (h < 0 || l < 0) return null;
      bytes.push((h << 4) | l);
      i += 2;
    } else if (c === 43 /* + */ && plus) {
      bytes.push(32);
    } else if (c < 128 || (raw && c < 256)) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i], 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function fold(s: string, mode: PatternMode): string {
  return mode.fold === 'lower' ? s.toLowerCase() : mode.fold === 'upper' ? s.toUpperCase() : s;
}

/** Compiles a wildcard body (no `!`/`~`) into a test; `**` is refused as Unit does. */
function compileWildcard(p: string, path: string): StringTest {
  if (p.includes('**')) {
    throw new RouterConfigError('The "match" pattern must not contain double "*" markers.', path, MATCH_ERROR);
  }
  if (p === '*') return () => true;
  const parts = p.split('*');
  if (parts.length === 1) return (v) => v === p;
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (parts.length === 2) {
    const min = first.length + last.length;
    if (first === '') return (v) => v.endsWith(last);
    if (last === '') return (v) => v.startsWith(first);
    return (v) => v.length >= min && v.startsWith(first) && v.endsWith(last);
  }
  const middle = parts.slice(1, -1);
  let min = first.length + last.length;
  for (const m of middle) min += m.length;
  return (v) => {
    if (v.length < min || !v.startsWith(first) || !v.endsWith(last)) return false;
    let pos = first.length;
    const end = v.length - last.length;
    for (let i = 0; i < middle.length; i++) {
      const at = v.indexOf(middle[i], pos);
      if (at < 0 || at + middle[i].length > end) return false;
      pos = at + middle[i].length;
    }
    return true;
  };
}

function compileOne(raw: unknown, mode: PatternMode, path: string): OnePattern {
  if (typeof raw !== 'string') {
    throw new RouterConfigError(`The "${lastKey(path)}" pattern must be a string.`, path, MATCH_ERROR);
  }
  let p = raw;
  let negative = false;
  if (p.startsWith('!')) {
    negative = true;
    p = p.slice(1);
  }
  if (p.startsWith('~')) {
    let re: RegExp;
    try {
      re = new RegExp(p.slice(1), mode.fold === 'none' ? '' : 'i');
    } catch (e) {
      throw new RouterConfigError(`Invalid regular expression "${p.slice(1)}": ${(e as Error).message}.`, path, MATCH_ERROR);
    }
    return { negative, test: (v) => re.test(v) };
  }
  if (mode.decode !== 'none') {
    const d = percentDecode(p, mode.decode === 'form');
    if (d === null) throw new RouterConfigError(`The "${raw}" pattern has an invalid percent-encoding.`, path, MATCH_ERROR);
    p = d;
  }
  return { negative, test: compileWildcard(fold(p, mode), path) };
}

function lastKey(path: string): string {
  const parts = path.split('/');
  for (let i = parts.length - 1; i >= 0; i--) if (!/^\d+$/.test(parts[i])) return parts[i];
  return '';
}

/**
 * Compiles a pattern or an array of patterns with Unit's rules: in an array, negatives are checked first and any
 * hit rejects; otherwise any positive must hit; an array of only negatives matches when none of them hits.
 */
export function compilePatternSet(value: unknown, mode: PatternMode, path: string): StringTest {
  if (!Array.isArray(value)) {
    const one = compileOne(value, mode, path);
    const t = one.test;
    return one.negative ? (v) => !t(v) : t;
  }
  const negatives: StringTest[] = [];
  const positives: StringTest[] = [];
  value.forEach((item, i) => {
    const one = compileOne(item, mode, `${path}/${i}`);
    (one.negative ? negatives : positives).push(one.test);
  });
  if (negatives.length === 0 && positives.length === 1) return positives[0];
  const nn = negatives.length;
  const np = positives.length;
  return (v) => {
    for (let i = 0; i < nn; i++) if (negatives[i](v)) return false;
    if (np === 0) return true;
    for (let i = 0; i < np; i++) if (positives[i](v)) return true;
    return false;
  };
}
