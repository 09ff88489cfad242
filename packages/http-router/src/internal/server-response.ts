import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'http';

/** Where the current `Server` header value is read from (changes with `settings.http.server_version`). */
export interface ServerHeaderSource {
  readonly serverHeader: string;
}

/**
 * `headers` as given to writeHead, with `name: value` added unless the response or `headers` has that field. A raw
 * array gets it appended (a setHeader now would make Node read the array through setHeader, which keeps only the
 * last of repeated fields).
 */
function withField(res: ServerResponse, headers: unknown, name: string, value: string): unknown {
  const lower = name.toLowerCase();
  if (res.hasHeader(lower)) return headers;
  if (headers === undefined || headers === null) {
    res.setHeader(name, value);
    return headers;
  }
  if (Array.isArray(headers)) {
    if (arrayHas(headers, lower)) return headers;
    return Array.isArray(headers[0]) ? [...headers, [name, value]] : [...headers, name, value];
  }
  if (typeof headers === 'object') {
    for (const k in headers as OutgoingHttpHeaders) if (k.length === lower.length && k.toLowerCase() === lower) return headers;
    return { ...(headers as OutgoingHttpHeaders), [name]: value };
  }
  return headers;
}

function arrayHas(headers: unknown[], lower: string): boolean {
  if (Array.isArray(headers[0])) {
    for (const pair of headers as unknown[][]) if (String(pair[0]).toLowerCase() === lower) return true;
    return false;
  }
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    if (typeof k === 'string' && k.length === lower.length && k.toLowerCase() === lower) return true;
  }
  return false;
}

/**
 * The response class of every listener: adds `Server` when the response head is written, unless the handler set
 * one (and `Sec-WebSocket-Version: 13` to a 426, as Unit does). Doing it here instead of a `setHeader` up front matters: once any header is set, Node feeds a raw header
 * array given to writeHead through setHeader, which keeps only the last of repeated fields (two `Set-Cookie` from
 * an app would lose one).
 */
export function responseClass(source: ServerHeaderSource): typeof ServerResponse {
  class WardenServerResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
    override writeHead(statusCode: number, a?: unknown, b?: unknown): this {
      const reason = typeof a === 'string' ? a : undefined;
      let headers = withField(this, reason === undefined ? a : b, 'Server', source.serverHeader);
      // Unit names the WebSocket version it takes on every 426 (nxt_h1p_request_header_send).
      if (statusCode === 426) headers = withField(this, headers, 'Sec-WebSocket-Version', '13');
      const write = super.writeHead as (s: number, r?: unknown, h?: unknown) => this;
      return reason === undefined ? write.call(this, statusCode, headers) : write.call(this, statusCode, reason, headers);
    }
  }
  return WardenServerResponse as unknown as typeof ServerResponse;
}
