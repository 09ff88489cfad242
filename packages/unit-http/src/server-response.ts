import * as http from 'http';

// Unit's unit-http response is not node:http's: `writeHead()` only records the status and headers, and the head goes
// out with the first `write()`/`end()`; once it has gone out, `writeHead()`, `setHeader()` and `removeHeader()` change
// nothing and throw nothing. node:http throws ERR_HTTP_HEADERS_SENT for each of these (a second `writeHead()`,
// `setHeader()` after `writeHead()`, `writeHead()` after `write()` or `end()`), and an app written for Unit that does
// one of them dies with an uncaught exception. This file gives a real `http.ServerResponse` Unit's tolerance.
//
// The methods are own properties set by the constructor, not prototype methods: express swaps the prototype of every
// response (`Object.setPrototypeOf(res, app.response)`, whose chain is node's ServerResponse.prototype when express
// loaded node:http itself), which would drop a subclass's methods. A wrapper someone installs later (on-headers
// replaces `res.writeHead`) still calls these.

type Headers = http.OutgoingHttpHeaders | ReadonlyArray<unknown> | undefined;

interface ResponseInternals extends http.ServerResponse {
  /** Node's stored head (truthy once `writeHead` ran for real): after it, headers can no longer change. */
  _header: string | null;
  _implicitHeader(): void;
  [kImplicit]?: boolean;
}

const kImplicit = Symbol('unit-http.implicitHead');
const nodeWriteHead = http.ServerResponse.prototype.writeHead as (this: http.ServerResponse, ...args: unknown[]) => http.ServerResponse;
const nodeSetHeader = http.ServerResponse.prototype.setHeader;
const nodeRemoveHeader = http.ServerResponse.prototype.removeHeader;
const nodeAppendHeader = (http.ServerResponse.prototype as { appendHeader?: typeof nodeSetHeader }).appendHeader;

/** The error node:http throws for a status outside 100..999 (Unit refuses the same range). */
function invalidStatus(status: unknown): RangeError {
  return Object.assign(new RangeError(`Invalid status code: ${String(status)}`), { code: 'ERR_HTTP_INVALID_STATUS_CODE' });
}

/**
 * `writeHead(status[, reason][, headers])` as Unit's unit-http has it: records status, reason and headers; the head is
 * sent by the first `write()`/`end()`. Called again before that, the later status wins and headers merge. After the
 * head went out, nothing changes and nothing is thrown.
 */
function writeHead(this: ResponseInternals, statusCode: number, reason?: string | Headers, headers?: Headers): ResponseInternals {
  if (this[kImplicit]) {
    // The head is being sent now (first write/end): node stores it.
    this[kImplicit] = false;
    nodeWriteHead.call(this, statusCode, reason, headers);
    return this;
  }
  if (this._header) return this;
  const status = statusCode | 0;
  if (status < 100 || status > 999) throw invalidStatus(statusCode);
  if (typeof reason === 'string') {
    this.statusMessage = reason;
  } else {
    headers = reason;
  }
  this.statusCode = status;
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const entry of headers as unknown[][]) if (entry[0]) this.setHeader(String(entry[0]), entry[1] as string);
    } else {
      if (headers.length % 2 !== 0) {
        throw Object.assign(new TypeError("The argument 'headers' must have an even number of entries"), {
          code: 'ERR_INVALID_ARG_VALUE',
        });
      }
      for (let i = 0; i < headers.length; i += 2) if (headers[i]) this.setHeader(String(headers[i]), headers[i + 1] as string);
    }
  } else if (headers) {
    const map = headers as http.OutgoingHttpHeaders;
    for (const name of Object.keys(map)) if (name) this.setHeader(name, map[name] as string);
  }
  return this;
}

/** Node's implicit head (first write/end without a stored head) goes through `this.writeHead`, as in node:http. */
function implicitHeader(this: ResponseInternals): void {
  this[kImplicit] = true;
  try {
    this.writeHead(this.statusCode);
  } finally {
    this[kImplicit] = false;
  }
}

function setHeader(this: ResponseInternals, name: string, value: number | string | readonly string[]): ResponseInternals {
  if (this._header) return this;
  nodeSetHeader.call(this, name, value);
  return this;
}

function removeHeader(this: ResponseInternals, name: string): void {
  if (this._header) return;
  nodeRemoveHeader.call(this, name);
}

function appendHeader(this: ResponseInternals, name: string, value: string | readonly string[]): ResponseInternals {
  if (this._header) return this;
  nodeAppendHeader!.call(this, name, value);
  return this;
}

/**
 * Gives one response Unit's header semantics (see the file's header comment). Header names and values are still
 * validated as node:http validates them (Unit's JavaScript does not; Warden keeps the check that stops header
 * injection).
 */
export function applyUnitSemantics(res: http.ServerResponse): void {
  const r = res as unknown as Record<string, unknown>;
  r.writeHead = writeHead;
  r.writeHeader = writeHead;
  r._implicitHeader = implicitHeader;
  r.setHeader = setHeader;
  r.removeHeader = removeHeader;
  if (nodeAppendHeader) r.appendHeader = appendHeader;
}

/**
 * unit-http's `ServerResponse`: a real `http.ServerResponse` (all of node's API, streams, events) with Unit's
 * tolerance of late `writeHead()`/`setHeader()` calls.
 */
export class ServerResponse<Request extends http.IncomingMessage = http.IncomingMessage> extends http.ServerResponse<Request> {
  constructor(req: Request, options?: object) {
    // node:http's server passes {highWaterMark, rejectNonStandardBodyWrites}; @types/node declares only `req`.
    super(...([req, options] as unknown as [Request]));
    applyUnitSemantics(this);
  }
}
