import * as http from 'http';
import { Readable } from 'stream';
import { runtimeLogger } from './runtime-logger';

// Every undocumented part of node:http and node:stream the Node runtime relies on, declared and looked up here and
// nowhere else. `checkNodeInternals()` proves each one on the running Node (test/node-internals.test.ts, run on
// Node 20 and 22 by CI); a Node that renamed or reshaped one fails that test with the internal's name and the Node
// version instead of a request that quietly misbehaves. At load, a symbol that cannot be found is logged once.

/** The OutgoingMessage/ServerResponse members the runtime reads, writes or replaces (stable Node 18 to 22). */
export interface OutgoingInternals {
  _header: string | null;
  _headerSent: boolean;
  _hasBody: boolean;
  _contentLength: number | null;
  _removedContLen: boolean;
  _closed: boolean;
  chunkedEncoding: boolean;
  sendDate: boolean;
  statusCode: number;
  _sent100: boolean;
  /** What addTrailers collected: "Name: value\r\n" lines (validated by node). */
  _trailer: string;
  /** Where Node serialises status line and headers into text: replaced per response by {@link replaceStoreHeader}. */
  _storeHeader(firstLine: string, headers: unknown): void;
  _send(data: unknown, encoding?: unknown, callback?: unknown, byteLength?: unknown): boolean;
  _writeRaw(data: unknown, encoding?: unknown, callback?: unknown, byteLength?: unknown): boolean;
  writeContinue(cb?: () => void): void;
  writeProcessing(cb?: () => void): void;
  writeEarlyHints(hints: unknown, cb?: () => void): void;
  [key: symbol]: unknown;
}

/** The IncomingMessage members the runtime uses (the calls Node's own HTTP parser and server make). */
export interface IncomingInternals {
  _addHeaderLines?(headers: string[], n: number): void;
  _read(n: number): void;
  _dump(): void;
  _consuming: boolean;
}

/** `OutgoingMessage.prototype._storeHeader`'s signature: `this` is the response. */
export type StoreHeader = (this: http.ServerResponse & OutgoingInternals, firstLine: string, headers: unknown) => void;

function symbolNamed(obj: object, description: string): symbol | undefined {
  return Object.getOwnPropertySymbols(obj).find((s) => s.description === description);
}

/** `kNeedDrain` of lib/_http_outgoing.js: set by `write()` returning false, read by `writableNeedDrain`. */
const kNeedDrain: symbol | undefined = symbolNamed(new http.OutgoingMessage(), 'kNeedDrain');

/** `kOutHeaders` of lib/internal/http.js: the store of `setHeader` ({lowercase name: [name, value]}). */
const kOutHeaders: symbol | undefined = (() => {
  const probe = new http.OutgoingMessage();
  probe.setHeader('x', '1');
  return symbolNamed(probe, 'kOutHeaders');
})();

/** `kIncomingMessage`/`kServerResponse` of lib/_http_server.js: a server's `IncomingMessage`/`ServerResponse` options. */
const kServerClasses: { IncomingMessage?: symbol; ServerResponse?: symbol } = (() => {
  const probe = http.createServer();
  return { IncomingMessage: symbolNamed(probe, 'IncomingMessage'), ServerResponse: symbolNamed(probe, 'ServerResponse') };
})();

{
  const missing = [
    kNeedDrain === undefined && 'kNeedDrain',
    kOutHeaders === undefined && 'kOutHeaders',
    kServerClasses.IncomingMessage === undefined && 'kIncomingMessage',
    kServerClasses.ServerResponse === undefined && 'kServerResponse',
  ].filter(Boolean);
  if (missing.length) {
    runtimeLogger().warn(
      { node: process.version, missing },
      `Node ${process.version} has no ${missing.join(', ')}: the Warden runtime works around it (see node-internals.ts)`,
    );
  }
}

/**
 * Makes `res` hand its head to `fn` instead of serialising it: Node calls `_storeHeader(firstLine, headers)` from
 * writeHead/end/flushHeaders with the status line and the headers in whichever form the app gave them.
 */
export function replaceStoreHeader(res: http.ServerResponse, fn: StoreHeader): void {
  (res as unknown as OutgoingInternals)._storeHeader = fn;
}

/**
 * Clears `res.writableNeedDrain` (Node's own server clears it when the socket drains; ours is not a net.Socket).
 * Returns whether it was set, i.e. whether the app is owed a 'drain'. When the flag cannot be found, true: a 'drain'
 * too many is harmless, one too few stalls a writer.
 */
export function takeNeedDrain(res: http.ServerResponse): boolean {
  if (kNeedDrain === undefined) return true;
  const own = res as unknown as Record<symbol, unknown>;
  if (!own[kNeedDrain]) return false;
  own[kNeedDrain] = false;
  return true;
}

/**
 * Whether `stream.resume()` was called and its flowing start is still pending (`_readableState.resumeScheduled`):
 * the check Node's server makes before dumping an unread request body.
 */
export function resumeScheduled(stream: Readable): boolean {
  const state = (stream as unknown as { _readableState?: { resumeScheduled?: unknown } })._readableState;
  return state?.resumeScheduled === true;
}

/** Whether `headers` is `res`'s own `setHeader` store (already validated, {lowercase: [name, value]}). */
export function isOutHeaders(res: http.ServerResponse, headers: unknown): headers is Record<string, [string, unknown]> {
  return kOutHeaders !== undefined && headers !== null && headers === (res as unknown as Record<symbol, unknown>)[kOutHeaders];
}

/** The `IncomingMessage`/`ServerResponse` classes a server was created with (`http.createServer(options)`). */
export function serverClasses(server: http.Server): {
  IncomingMessage?: typeof http.IncomingMessage;
  ServerResponse?: typeof http.ServerResponse;
} {
  const own = server as unknown as Record<symbol, unknown>;
  const get = <T>(k: symbol | undefined) => (k === undefined ? undefined : (own[k] as T | undefined));
  return {
    IncomingMessage: get<typeof http.IncomingMessage>(kServerClasses.IncomingMessage),
    ServerResponse: get<typeof http.ServerResponse>(kServerClasses.ServerResponse),
  };
}

/** One internal that the running Node does not provide as the runtime expects. */
export interface InternalProblem {
  /** The internal, as it is named in Node's source (`OutgoingMessage.prototype._storeHeader`, `kNeedDrain`, ...). */
  internal: string;
  /** What was found instead. */
  detail: string;
}

/**
 * Checks every internal on the running Node, by behaviour where it can: each entry names an internal that is missing
 * or behaves differently. Empty on the Node versions the runtime supports.
 */
export function checkNodeInternals(): InternalProblem[] {
  const problems: InternalProblem[] = [];
  const check = (internal: string, fn: () => string | undefined): void => {
    let detail: string | undefined;
    try {
      detail = fn();
    } catch (err) {
      detail = `threw ${(err as Error).message}`;
    }
    if (detail !== undefined) problems.push({ internal, detail });
  };

  check('OutgoingMessage.prototype._storeHeader', () => {
    const proto = http.OutgoingMessage.prototype as unknown as Partial<OutgoingInternals>;
    if (typeof proto._storeHeader !== 'function') return 'no such method';
    const res = probeResponse();
    let seen: [string, unknown] | undefined;
    replaceStoreHeader(res, function (firstLine, headers) {
      seen = [firstLine, headers];
      this._header = firstLine;
    });
    res.setHeader('X-Probe', 'a');
    res.writeHead(201);
    if (!seen) return 'writeHead() did not call it';
    if (!seen[0].startsWith('HTTP/1.1 201 ')) return `called with first line ${JSON.stringify(seen[0])}`;
    if (!isOutHeaders(res, seen[1]) || seen[1]['x-probe']?.[1] !== 'a') return 'not called with the setHeader store';
    return undefined;
  });
  for (const name of ['_send', '_writeRaw', 'writeContinue', 'writeProcessing', 'writeEarlyHints'] as const) {
    check(`OutgoingMessage.prototype.${name}`, () => {
      const res = probeResponse() as unknown as Record<string, unknown>;
      return typeof res[name] === 'function' ? undefined : 'no such method';
    });
  }
  check('OutgoingMessage fields', () => {
    const res = probeResponse() as unknown as Record<string, unknown>;
    const missing = ['_header', '_headerSent', '_hasBody', '_contentLength', '_removedContLen', '_closed', 'chunkedEncoding', 'sendDate', '_sent100'].filter(
      (f) => !(f in res),
    );
    return missing.length ? `missing ${missing.join(', ')}` : undefined;
  });
  check('OutgoingMessage._trailer (addTrailers)', () => {
    const res = probeResponse();
    res.addTrailers({ 'X-Sum': 'abc' });
    return res._trailer === 'X-Sum: abc\r\n' ? undefined : `addTrailers left ${JSON.stringify(res._trailer)}`;
  });
  check('kNeedDrain (OutgoingMessage)', () => {
    if (kNeedDrain === undefined) return 'no own symbol described "kNeedDrain" on a new OutgoingMessage';
    const res = probeResponse();
    (res as unknown as Record<symbol, unknown>)[kNeedDrain] = true;
    if (res.writableNeedDrain !== true) return 'setting it does not set writableNeedDrain';
    if (!takeNeedDrain(res) || (res as { writableNeedDrain: boolean }).writableNeedDrain) return 'clearing it does not clear writableNeedDrain';
    return undefined;
  });
  check('kOutHeaders (OutgoingMessage)', () => (kOutHeaders === undefined ? 'no own symbol described "kOutHeaders" after setHeader' : undefined));
  check('kIncomingMessage/kServerResponse (http.Server)', () => {
    class MyResponse extends http.ServerResponse {}
    const got = serverClasses(http.createServer({ ServerResponse: MyResponse }));
    return got.ServerResponse === MyResponse && got.IncomingMessage === http.IncomingMessage
      ? undefined
      : 'a server does not keep its IncomingMessage/ServerResponse options under symbols described so';
  });
  check('_readableState.resumeScheduled (stream.Readable)', () => {
    const r = new Readable({ read() {} });
    if (resumeScheduled(r)) return 'true before resume()';
    r.resume();
    return resumeScheduled(r) ? undefined : 'not true right after resume()';
  });
  check('IncomingMessage.prototype._addHeaderLines/_dump/_read', () => {
    const req = new http.IncomingMessage(null as never) as unknown as IncomingInternals & http.IncomingMessage;
    if (typeof req._addHeaderLines !== 'function' || typeof req._dump !== 'function') return 'no such methods';
    req._addHeaderLines(['Host', 'a', 'X-Two', '1', 'X-Two', '2'], 6);
    return req.headers['x-two'] === '1, 2' && req.rawHeaders.length === 6 ? undefined : "header lines not added as Node's parser adds them";
  });
  return problems;
}

/** A response on a request without a socket, as the probes need. */
function probeResponse(): http.ServerResponse & OutgoingInternals {
  const req = new http.IncomingMessage(null as never);
  req.method = 'GET';
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  return new http.ServerResponse(req) as http.ServerResponse & OutgoingInternals;
}

/** One sentence per problem, naming the Node version: what the test and the runtime's start-up warning print. */
export function describeProblems(problems: readonly InternalProblem[], version = process.version): string {
  return problems.map((p) => `Node ${version} changed ${p.internal}: ${p.detail}`).join('\n');
}
