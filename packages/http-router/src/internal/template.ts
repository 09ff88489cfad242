import { randomBytes } from 'crypto';
import { compileFunction } from 'vm';
import { RouterConfigError, VARIABLE_ERROR } from './errors';
import { templateContext } from './js-scope';
import type { RequestContext } from './request-context';

/** A compiled string with Unit variables, evaluated per request. */
export type Template = (ctx: RequestContext) => string;

/** A compiled template and what it needs. */
export interface CompiledTemplate {
  fn: Template;
  /** The value when the string has no variables, else null. */
  constant: string | null;
  /** Names of the variables used (for deciding which counters to keep). */
  vars: string[];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let timeLocalSecond = -1;
let timeLocalText = '';

/** `$time_local` in the common log format (`30/Nov/2026:03:26:01 +0000`), cached per second. */
export function timeLocal(now: number): string {
  const sec = Math.floor(now / 1000);
  if (sec === timeLocalSecond) return timeLocalText;
  const d = new Date(sec * 1000);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  const p2 = (n: number) => (n < 10 ? '0' + n : String(n));
  timeLocalText =
    `${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:` +
    `${p2(d.getSeconds())} ${sign}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`;
  timeLocalSecond = sec;
  return timeLocalText;
}

function first(list: string[] | undefined, absent: string): string {
  return list === undefined ? absent : list[0];
}

function last(list: string[] | undefined, absent: string): string {
  return list === undefined ? absent : list[list.length - 1];
}

/**
 * Returns the getter of one variable, or null when Unit has no such variable. `absent`: the value of a header,
 * argument or cookie the request does not have (Unit: an empty string, `-` in access log lines).
 */
function variable(name: string, absent: string): Template | null {
  switch (name) {
    case 'uri':
      return (c) => c.path;
    case 'host':
      return (c) => c.host;
    case 'method':
      return (c) => c.method;
    case 'request_uri':
      return (c) => c.originalTarget;
    case 'scheme':
      // Warden's addition (Unit 1.35 has no $scheme): `https` on TLS listeners or by `forwarded.protocol`.
      return (c) => c.scheme;
    case 'remote_addr':
      return (c) => c.remoteAddress;
    case 'status':
      return (c) => String(c.status);
    case 'body_bytes_sent':
      return (c) => String(c.bodyBytes);
    case 'time_local':
      return () => timeLocal(Date.now());
    case 'request_time':
      // Seconds with milliseconds since the first byte of the request (Unit: r->start_time).
      return (c) => (c.startTime === 0 ? '0.000' : ((Date.now() - c.startTime) / 1000).toFixed(3));
    case 'request_line':
      return (c) => (c.noRequestLine ? '-' : `${c.req.method ?? ''} ${c.originalTarget} HTTP/${c.req.httpVersion}`);
    case 'request_id':
      // One value per request however often it is used (Unit caches it): 32 hex digits.
      return (c) => (c.requestId ??= randomBytes(16).toString('hex'));
    case 'dollar':
      return () => '$';
  }
  if (name.startsWith('header_') && name.length > 7) {
    // The first field of that name, as Unit takes it (not the occurrences joined).
    const h = name.slice(7).toLowerCase().replace(/_/g, '-');
    return (c) => {
      const v = c.headerAll(h);
      return v === undefined ? absent : typeof v === 'string' ? v : first(v, absent);
    };
  }
  if (name.startsWith('arg_') && name.length > 4) {
    // A repeated argument: the last occurrence, as Unit takes it (nxt_http_var_arg searches from the end).
    const a = name.slice(4);
    return (c) => last(c.args.get(a), absent);
  }
  if (name.startsWith('cookie_') && name.length > 7) {
    const k = name.slice(7);
    return (c) => first(c.cookies.get(k), absent);
  }
  if (name.startsWith('response_header_') && name.length > 16) {
    const h = name.slice(16).toLowerCase().replace(/_/g, '-');
    return (c) => {
      if (c.res === null) return absent; // no response (a refused head's log line)
      const v = c.res.getHeader(h);
      return v === undefined ? absent : Array.isArray(v) ? v.join(', ') : String(v);
    };
  }
  return null;
}

/** A byte of a variable name as Unit reads it: ASCII letters and `_` (no digits). */
function isNameChar(c: number): boolean {
  const l = c | 0x20;
  return (l >= 97 && l <= 122) || c === 95;
}

/**
 * Compiles a string with `$name` / `${name}` variables as Unit does (nxt_var_next_part): a name is ASCII letters
 * and `_`; a `$` not followed by one (a lone or trailing `$`, `${}`, an unclosed `${`) is refused with Unit's
 * `Invalid variable at position N` (N: the offset of that `$`), an unknown name with `Unknown variable "x"`,
 * both as config errors at `path`. `$dollar` writes a `$`. `logging`: a format of access log lines, where a header,
 * argument or cookie the request lacks is written `-` (Unit's nxt_var_interpreter with logging).
 */
export function compileTemplate(text: string, path: string, logging: boolean | 'escaped' = false): CompiledTemplate {
  if (text.charCodeAt(0) === 96 /* ` */) {
    const js = compileJsTemplate(text, path);
    if (logging !== 'escaped') return js;
    const run = js.fn;
    return { ...js, fn: (ctx) => escapeLogText(run(ctx)) }; // its whole line is the request's doing
  }
  if (text.indexOf('$') === -1) return { fn: () => text, constant: text, vars: [] };
  const parts: Array<string | Template> = [];
  const vars: string[] = [];
  let lit = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      lit += c;
      i++;
      continue;
    }
    const bracket = text.charCodeAt(i + 1) === 123; /* { */
    let k = bracket ? i + 2 : i + 1;
    while (k < text.length && isNameChar(text.charCodeAt(k))) k++;
    const name = text.slice(bracket ? i + 2 : i + 1, k);
    if (name === '' || (bracket && text.charCodeAt(k) !== 125)) {
      throw new RouterConfigError(`Invalid variable at position ${i}`, path, VARIABLE_ERROR);
    }
    const end = bracket ? k + 1 : k;
    const getter = variable(name, logging ? '-' : '');
    if (!getter) throw new RouterConfigError(`Unknown variable "${name}"`, path, VARIABLE_ERROR);
    vars.push(name);
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push(logging === 'escaped' ? (ctx) => escapeLogText(getter(ctx)) : getter);
    i = end;
  }
  if (lit !== '') parts.push(lit);
  const n = parts.length;
  const fn: Template =
    n === 1 && typeof parts[0] !== 'string'
      ? (parts[0] as Template)
      : (ctx) => {
          let s = '';
          for (let k = 0; k < n; k++) {
            const p = parts[k];
            s += typeof p === 'string' ? p : p(ctx);
          }
          return s;
        };
  return { fn, constant: null, vars };
}

/**
 * A value written into a text access log line, as nginx's log escaping writes it: `"`, `\`, control characters and
 * bytes outside printable ASCII as `\xHH`, so that what a client sends (a percent-encoded CRLF in the target, a
 * quote in a header) can neither end the line nor forge fields. Characters above U+00FF (from a JavaScript
 * template) are written as their UTF-8 bytes.
 */
export function escapeLogText(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x7f) return escapeFrom(s, i);
  }
  return s;
}

function escapeFrom(s: string, from: number): string {
  let out = s.slice(0, from);
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && c < 0x7f) out += s[i];
    else if (c <= 0xff) out += hexByte(c);
    else {
      const cp = s.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += hexByte(b);
    }
  }
  return out;
}

function hexByte(b: number): string {
  return '\\x' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
}

/** Unit's truthiness for `if`: empty, `0`, `false`, `null` and `undefined` are false. */
export function truthy(s: string): boolean {
  return !(s === '' || s === '0' || s === 'false' || s === 'null' || s === 'undefined');
}

/** The names a JavaScript template sees, in Unit's order (nxt_js_add_tpl, nxt_http_js.c). */
const JS_PARAMS = ['uri', 'host', 'remoteAddr', 'args', 'headers', 'cookies', 'vars'];

/** A JavaScript template's failure at run time (a ReferenceError, a TypeError, ...), with the template. */
export class TemplateError extends Error {
  constructor(
    readonly template: string,
    readonly thrown: unknown,
  ) {
    super(`js exception: ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown)}`);
    this.name = 'TemplateError';
  }
}

type JsFunction = (...args: unknown[]) => unknown;

/**
 * A string that starts with a backtick: Unit's njs template literal. The whole string is one JavaScript
 * expression (normally a template literal, `` `${uri}.html` ``), evaluated per request as the value of a function of
 * uri, host, remoteAddr, args, headers, cookies and vars (Unit: nxt_js_add_tpl), in the context of the config being
 * compiled (js-scope.ts: the globals of its `settings.js_module` modules); its result is made a string as Unit
 * does (`value + ''`). A syntax error is a config error naming it; an exception at run time throws a TemplateError
 * (the request is answered 500, as Unit answers a template that fails).
 */
function compileJsTemplate(text: string, path: string): CompiledTemplate {
  let f: JsFunction;
  try {
    // Parenthesised and followed by a line break: the text is one expression and cannot close the function early
    // or comment out its end.
    f = compileFunction(`return (${text}\n) + '';`, JS_PARAMS, { parsingContext: templateContext(), filename: 'template' }) as JsFunction;
  } catch (e) {
    const err = e as Error;
    throw new RouterConfigError(`"${err.name}: ${err.message}"`, path, VARIABLE_ERROR);
  }
  const fn: Template = (c) => {
    try {
      return f(c.path, c.host, c.remoteAddress, jsArgs(c), jsHeaders(c), jsCookies(c), jsVars(c)) as string;
    } catch (e) {
      throw new TemplateError(text, e);
    }
  };
  // The variables that need counters of their own (see CompiledTemplate.vars): the ones the text names.
  return { fn, constant: null, vars: text.includes('body_bytes_sent') ? ['body_bytes_sent'] : [] };
}

/** `args`: the query's arguments, decoded; a repeated one as an array of its values (njs's querystring.parse). */
function jsArgs(c: RequestContext): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of c.args) out[k] = v.length === 1 ? v[0] : v.slice();
  return out;
}

/** `headers`: each field by the name the client sent (case as sent), the first occurrence's value (Unit's). */
function jsHeaders(c: RequestContext): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const raw = c.req.rawHeaders;
  if (raw !== undefined) {
    for (let i = 0; i + 1 < raw.length; i += 2) if (out[raw[i]] === undefined) out[raw[i]] = raw[i + 1];
    return out;
  }
  for (const [k, v] of Object.entries(c.req.headers)) if (v !== undefined) out[k] = typeof v === 'string' ? v : v[0];
  return out;
}

/** `cookies`: each cookie's first value. */
function jsCookies(c: RequestContext): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of c.cookies) out[k] = v[0];
  return out;
}

const varGetters = new Map<string, Template | null>();

/** `vars`: Unit's variables by name (`vars.method` is `$method`); undefined for a name Unit has no variable for. */
function jsVars(c: RequestContext): Record<string, string | undefined> {
  return new Proxy(Object.create(null) as Record<string, string | undefined>, {
    get(_t, name) {
      if (typeof name !== 'string') return undefined;
      let g = varGetters.get(name);
      if (g === undefined) {
        g = variable(name, '');
        if (varGetters.size < 1024) varGetters.set(name, g);
      }
      return g === null ? undefined : g(c);
    },
    has(_t, name) {
      return typeof name === 'string' && variable(name, '') !== null;
    },
  });
}
