import { compileAddressSet } from './address-pattern';
import { jp, MATCH_ERROR, RouterConfigError } from './errors';
import { compilePatternSet, type PatternMode, type StringTest } from './pattern';
import type { RequestContext } from './request-context';
import { compileTemplate, truthy } from './template';

/** A compiled `match` object: true when the request satisfies every condition. */
export type MatchTest = (ctx: RequestContext) => boolean;

const CASE_LOWER: PatternMode = { fold: 'lower', decode: 'none' };
const CASE_UPPER: PatternMode = { fold: 'upper', decode: 'none' };
const URI_MODE: PatternMode = { fold: 'none', decode: 'uri' };
const ARG_MODE: PatternMode = { fold: 'none', decode: 'form' };
const EXACT: PatternMode = { fold: 'none', decode: 'none' };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type Lookup = (ctx: RequestContext, name: string) => string[] | string | undefined;

/**
 * Compiles `arguments` / `headers` / `cookies`: an object (all must match) or array of objects (any may; an empty one
 * matches every request, as an empty array of patterns does). A field
 * that is absent fails; a field sent several times matches only when every occurrence does (Unit's rule).
 */
function compileFieldSets(key: string, value: unknown, path: string, mode: PatternMode, lookup: Lookup, foldValue: boolean, foldName: boolean): MatchTest {
  const compileObject = (obj: Record<string, unknown>, p: string): MatchTest => {
    const names: string[] = [];
    const tests: StringTest[] = [];
    for (const [name, pat] of Object.entries(obj)) {
      if (name === '') throw new RouterConfigError('The "match" pattern objects must not contain empty member names.', jp(p, name), MATCH_ERROR);
      names.push(foldName ? name.toLowerCase() : name);
      tests.push(compilePatternSet(pat, mode, jp(p, name)));
    }
    const n = names.length;
    return (ctx) => {
      for (let i = 0; i < n; i++) {
        const v = lookup(ctx, names[i]);
        if (v === undefined) return false;
        const t = tests[i];
        if (typeof v === 'string') {
          if (!t(foldValue ? v.toLowerCase() : v)) return false;
        } else {
          // As Unit: every occurrence of the field must satisfy the pattern.
          for (let k = 0; k < v.length; k++) if (!t(foldValue ? v[k].toLowerCase() : v[k])) return false;
        }
      }
      return true;
    };
  };
  if (!Array.isArray(value)) return compileObject(value as Record<string, unknown>, path);
  if (value.length === 0) return () => true; // Unit: an empty table matches (nxt_http_route_table)
  const alts = value.map((o, i) => compileObject(o, jp(path, i)));
  return (ctx) => {
    for (let i = 0; i < alts.length; i++) if (alts[i](ctx)) return true;
    return false;
  };
}

/**
 * Compiles one route step's `match` object into a single test, with Unit's case and encoding rules per key. The
 * cheapest conditions run first.
 */
export function compileMatch(match: Record<string, unknown> | undefined, path: string): MatchTest | null {
  if (match === undefined) return null;
  const tests: Array<{ cost: number; t: MatchTest }> = [];
  for (const [key, value] of Object.entries(match)) {
    const p = jp(path, key);
    switch (key) {
      case 'method': {
        const t = compilePatternSet(value, CASE_UPPER, p);
        tests.push({ cost: 0, t: (c) => t(c.method) });
        break;
      }
      case 'host': {
        const t = compilePatternSet(value, CASE_LOWER, p);
        tests.push({ cost: 1, t: (c) => t(c.host) });
        break;
      }
      case 'uri': {
        const t = compilePatternSet(value, URI_MODE, p);
        tests.push({ cost: 0, t: (c) => t(c.path) });
        break;
      }
      case 'query': {
        const t = compilePatternSet(value, URI_MODE, p);
        tests.push({ cost: 2, t: (c) => t(decodeQuery(c.query)) });
        break;
      }
      case 'scheme': {
        const want = (value as string).toLowerCase();
        if (want !== 'http' && want !== 'https') throw new RouterConfigError('The "scheme" can either be "http" or "https".', p, MATCH_ERROR);
        tests.push({ cost: 0, t: (c) => c.scheme === want });
        break;
      }
      case 'source': {
        const t = compileAddressSet(value, p);
        tests.push({ cost: 3, t: (c) => t(c.remoteAddress, c.remotePort) });
        break;
      }
      case 'destination': {
        const t = compileAddressSet(value, p);
        tests.push({ cost: 3, t: (c) => t(c.localAddress, c.localPort) });
        break;
      }
      case 'arguments':
        tests.push({ cost: 2, t: compileFieldSets(key, value, p, ARG_MODE, (c, n) => c.args.get(n), false, false) });
        break;
      case 'headers':
        tests.push({ cost: 2, t: compileFieldSets(key, value, p, CASE_LOWER, (c, n) => c.headerAll(n), true, true) });
        break;
      case 'cookies':
        tests.push({ cost: 2, t: compileFieldSets(key, value, p, EXACT, (c, n) => c.cookies.get(n), false, false) });
        break;
      case 'if': {
        const negate = (value as string).startsWith('!');
        const text = value as string;
        const tpl = compileTemplate(negate ? text.slice(1) : text, p).fn;
        tests.push({ cost: 4, t: negate ? (c) => !truthy(tpl(c)) : (c) => truthy(tpl(c)) });
        break;
      }
      default:
        throw new RouterConfigError(`Unknown parameter "${key}".`, p);
    }
  }
  tests.sort((a, b) => a.cost - b.cost);
  const fns = tests.map((x) => x.t);
  switch (fns.length) {
    case 0:
      return null;
    case 1:
      return fns[0];
    case 2: {
      const [a, b] = fns;
      return (c) => a(c) && b(c);
    }
    default:
      return (c) => {
        for (let i = 0; i < fns.length; i++) if (!fns[i](c)) return false;
        return true;
      };
  }
}

function decodeQuery(q: string): string {
  if (q.indexOf('%') === -1) return q;
  let out = '';
  try {
    out = decodeURIComponent(q);
  } catch {
    out = q;
  }
  return out;
}

/**
 * A literal prefix every matching `$uri` must start with, when the step's `uri` is one plain positive pattern: the
 * step loop checks it inline (one monomorphic startsWith) before calling the step's compiled test.
 */
export function uriPrefixGuard(match: unknown): string | null {
  if (!isObject(match) || typeof match.uri !== 'string') return null;
  const p = match.uri;
  if (p.startsWith('!') || p.startsWith('~')) return null;
  const star = p.indexOf('*');
  const literal = star === -1 ? p : p.slice(0, star);
  if (literal.length < 2 || literal.indexOf('%') !== -1) return null;
  return literal;
}
