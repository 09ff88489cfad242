import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'http';

/** Where the current `Server` header value is read from (changes with `settings.http.server_version`). */
export interface ServerHeaderSource {
  readonly serverHeader: string;
}

function arrayHasServer(headers: unknown[]): boolean {
  if (Array.isArray(headers[0])) {
    for (const pair of headers as unknown[][]) if (String(pair[0]).toLowerCase() === 'server') return true;
    return false;
  }
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i];
    if (typeof k === 'string' && k.length === 6 && k.toLowerCase() === 'server') return true;
  }
  return false;
}

/**
 * The response class of every listener: adds `Server` when the response head is written, unless the handler set
 * one. Doing it here instead of a `setHeader` up front matters: once any header is set, Node feeds a raw header
 * array given to writeHead through setHeader, which keeps only the last of repeated fields (two `Set-Cookie` from
 * an app would lose one).
 */
export function responseClass(source: ServerHeaderSource): typeof ServerResponse {
  class WardenServerResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
    override writeHead(statusCode: number, a?: unknown, b?: unknown): this {
      const reason = typeof a === 'string' ? a : undefined;
      let headers = reason === undefined ? a : b;
      const value = source.serverHeader;
      if (headers === undefined || headers === null) {
        if (!this.hasHeader('server')) this.setHeader('Server', value);
      } else if (Array.isArray(headers)) {
        if (!arrayHasServer(headers) && !this.hasHeader('server')) {
          headers = Array.isArray(headers[0]) ? [...headers, ['Server', value]] : [...headers, 'Server', value];
        }
      } else if (typeof headers === 'object') {
        const obj = headers as OutgoingHttpHeaders;
        let has = this.hasHeader('server');
        if (!has) for (const k in obj) if (k.length === 6 && k.toLowerCase() === 'server') has = true;
        if (!has) headers = { ...obj, Server: value };
      }
      const write = super.writeHead as (s: number, r?: unknown, h?: unknown) => this;
      return reason === undefined ? write.call(this, statusCode, headers) : write.call(this, statusCode, reason, headers);
    }
  }
  return WardenServerResponse as unknown as typeof ServerResponse;
}
