import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'http';
import type { Action } from './compiled-config';
import { percentDecode } from './pattern';
import { normalizePath, pathLength, queryOf, targetBytes } from './request-target';

/**
 * The part of a request head that routing and variables read. An IncomingMessage is one; so are the lean path's
 * view (LeanRequestView) and RouteMatcher's request.
 */
export interface RequestView {
  readonly method?: string;
  url?: string;
  readonly httpVersion: string;
  readonly headers: IncomingHttpHeaders;
  readonly headersDistinct?: Record<string, string[] | undefined>;
  /** Field names as sent and their values, alternating (for templates' `headers`); absent: `headers` stands in. */
  readonly rawHeaders?: string[];
}

/**
 * Everything routing, variables and actions read from one request, computed lazily and at most once. One object per
 * request that leaves the fast path; everything else hangs off it, so matching allocates nothing more in the common
 * case.
 */
export class RequestContext {
  /** Method, upper-cased. */
  method: string;
  /** Current request target (raw; changed by `rewrite`). */
  target: string;
  /** The target as received, for `$request_line`. */
  readonly originalTarget: string;
  /** Response body bytes written so far (only counted when a log format needs it). */
  bodyBytes = 0;
  /** Actions run for this request so far (Unit's `pass_count`: see resolveRoute). */
  actions = 0;
  /** The route whose step was taken last (`''`: the array form), its step index, and that step's action. */
  route = '';
  step = -1;
  action: Action | null = null;
  /** The application the request was handed to (null: none). */
  app: string | null = null;
  /** Set by `return` for status codes Node cannot send (0–99); reported as `$status`. */
  rawStatus = -1;
  /** When the first byte of the request came (ms), for `$request_time`; 0: unknown. */
  startTime = 0;
  /** No request line was read (a head refused before it was a request): `$request_line` is "-", as in Unit. */
  noRequestLine = false;
  /** `$request_id`, made on first use. */
  requestId: string | undefined = undefined;
  private pathValue: string | null = null;
  private queryValue = '';
  private hostValue: string | null = null;
  private argsValue: Map<string, string[]> | null = null;
  private cookiesValue: Map<string, string[]> | null = null;

  constructor(
    readonly req: RequestView,
    /** The response (node:http path); null while only routing (lean path, RouteMatcher). */
    readonly res: ServerResponse | null,
    public remoteAddress: string,
    public remotePort: number,
    readonly localAddress: string,
    readonly localPort: number,
    public scheme: 'http' | 'https',
  ) {
    this.method = (req.method ?? 'GET').toUpperCase();
    this.target = req.url ?? '/';
    this.originalTarget = this.target;
  }

  /**
   * Splits and normalizes the target as Unit does (percent-decoded, `.`/`..` resolved, adjacent slashes merged);
   * false when it must be refused with 400 (bad escape, NUL, `..` above the root, not origin-form). Only the
   * origin-form (`/path?query`) is a target: Unit refuses the absolute-form (`http://host/path`), the
   * authority-form (`host:port`) and the asterisk-form (`*`) with 400 (nxt_http_parse_unusual_target), and so does
   * Warden, so that the host a request is routed by is always its Host field.
   */
  parse(rewritten = false): boolean {
    const raw = this.target;
    // A rewritten target is taken whatever it starts with, as Unit's nxt_http_rewrite parses it (`""` is the path "").
    if (raw.charCodeAt(0) !== 47 /* / */ && !rewritten) return false;
    // Split without allocating an intermediate object (the common case).
    const end = pathLength(raw);
    const path = normalizePath(end === raw.length ? raw : raw.slice(0, end));
    if (path === null) return false;
    this.pathValue = path;
    this.queryValue = queryOf(raw, end);
    this.argsValue = null;
    return true;
  }

  /** `$uri`: decoded, normalized path. */
  get path(): string {
    return this.pathValue ?? '/';
  }

  /** Raw query string (without `?`). */
  get query(): string {
    return this.queryValue;
  }

  /**
   * Replaces the target's path (`rewrite`); false when the new one is not valid. As in Unit (nxt_http_rewrite), the
   * request keeps its own query: a query in the new value is dropped, and the request's is appended if it has one.
   */
  rewrite(value: string): boolean {
    const q = value.indexOf('?');
    const path = q === -1 ? value : value.slice(0, q);
    const target = targetBytes(this.queryValue === '' ? path : path + '?' + this.queryValue);
    this.target = target;
    this.req.url = target;
    return this.parse(true);
  }

  /** Host header lower-cased, without port and trailing dot. */
  get host(): string {
    if (this.hostValue !== null) return this.hostValue;
    let h = this.req.headers.host ?? '';
    if (h.charCodeAt(0) === 91 /* [ */) {
      const close = h.indexOf(']');
      h = close > 0 ? h.slice(0, close + 1) : h;
    } else {
      const colon = h.indexOf(':');
      if (colon >= 0) h = h.slice(0, colon);
    }
    if (h.endsWith('.')) h = h.slice(0, -1);
    this.hostValue = h.toLowerCase();
    return this.hostValue;
  }

  /** A request header, duplicates joined; undefined when absent. `name` is lower-case. */
  header(name: string): string | undefined {
    const v = this.req.headers[name];
    if (v === undefined) return undefined;
    return typeof v === 'string' ? v : v.join(name === 'cookie' ? '; ' : ', ');
  }

  /** Every occurrence of a request header, unjoined; undefined when absent. `name` is lower-case. */
  headerAll(name: string): string[] | string | undefined {
    const distinct = this.req.headersDistinct;
    if (distinct !== undefined) return distinct[name];
    return this.req.headers[name];
  }

  /** Query arguments, percent-decoded (`+` as space), in order of appearance. */
  get args(): Map<string, string[]> {
    if (this.argsValue) return this.argsValue;
    const m = new Map<string, string[]>();
    if (this.queryValue !== '') {
      for (const part of this.queryValue.split('&')) {
        if (part === '') continue;
        const eq = part.indexOf('=');
        const name = percentDecode(eq < 0 ? part : part.slice(0, eq), true, true) ?? part;
        const value = eq < 0 ? '' : (percentDecode(part.slice(eq + 1), true, true) ?? part.slice(eq + 1));
        const list = m.get(name);
        if (list) list.push(value);
        else m.set(name, [value]);
      }
    }
    this.argsValue = m;
    return m;
  }

  /** Cookies from every Cookie header. */
  get cookies(): Map<string, string[]> {
    if (this.cookiesValue) return this.cookiesValue;
    const m = new Map<string, string[]>();
    const header = this.header('cookie');
    if (header) {
      for (const part of header.split(';')) {
        const eq = part.indexOf('=');
        if (eq < 0) continue;
        const name = part.slice(0, eq).trim();
        const value = part.slice(eq + 1).trim();
        if (name === '') continue;
        const list = m.get(name);
        if (list) list.push(value);
        else m.set(name, [value]);
      }
    }
    this.cookiesValue = m;
    return m;
  }

  /** The response; throws while only routing (a response variable in a `pass` or `rewrite` on the lean path). */
  get response(): ServerResponse {
    if (this.res === null) throw new Error('no response while routing');
    return this.res;
  }

  /** The status sent or about to be sent. */
  get status(): number {
    return this.rawStatus >= 0 ? this.rawStatus : this.response.statusCode;
  }
}

/** A request node:http parsed and its response: what the actions (share, proxy, return, the access log) work on. */
export class NodeRequestContext extends RequestContext {
  declare readonly req: IncomingMessage;
  declare readonly res: ServerResponse;

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    remoteAddress: string,
    remotePort: number,
    localAddress: string,
    localPort: number,
    scheme: 'http' | 'https',
  ) {
    super(req, res, remoteAddress, remotePort, localAddress, localPort, scheme);
  }
}
