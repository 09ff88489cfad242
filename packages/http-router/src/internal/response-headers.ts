import type { OutgoingHttpHeaders, ServerResponse } from 'http';
import type { NodeRequestContext } from './request-context';
import type { Template } from './template';

type WriteHead = ServerResponse['writeHead'];

/**
 * Makes a variable's value safe for a header: values come from the client (a decoded `$uri` may hold `%0A`), and
 * Node throws on control characters, which would surface inside the app's own writeHead call. Anything outside
 * visible ASCII, space and tab is percent-encoded.
 */
export function safeHeaderValue(v: string): string {
  return /[^\t\x20-\x7e]/.test(v) ? v.replace(/[^\t\x20-\x7e]/g, (c) => encodeURIComponent(c)) : v;
}

type HeaderList = Array<{ name: string; value: Template | null }>;
const kList = Symbol('warden.responseHeaders');

/**
 * Applies an action's `response_headers` to whatever the action (or the app) sends: `writeHead` of this one response
 * is wrapped so the headers are set or removed last, after the app's own, with `$status` already known. As Unit
 * (nxt_http_set_headers), only to a response with a status from 200 to 399, and only the last action's: a share's
 * fallback installs its own in place of the share's. A value whose JavaScript template throws leaves that field out
 * (the app's response is already under way).
 */
export function installResponseHeaders(ctx: NodeRequestContext, list: HeaderList): void {
  const res = ctx.res as ServerResponse & { [kList]?: HeaderList };
  const wrappedAlready = res[kList] !== undefined;
  res[kList] = list;
  if (wrappedAlready) return;
  const orig: WriteHead = res.writeHead;
  const wrapped = function (this: ServerResponse & { [kList]?: HeaderList }, status: number, a?: unknown, b?: unknown): ServerResponse {
    let reason: string | undefined;
    let headers: unknown;
    if (typeof a === 'string') {
      reason = a;
      headers = b;
    } else headers = a;
    if (headers) {
      if (Array.isArray(headers)) {
        if (Array.isArray(headers[0])) for (const [k, v] of headers as Array<[string, string]>) this.appendHeader(k, v);
        else for (let i = 0; i + 1 < headers.length; i += 2) this.appendHeader(headers[i] as string, headers[i + 1] as string);
      } else {
        for (const [k, v] of Object.entries(headers as OutgoingHttpHeaders)) if (v !== undefined) this.setHeader(k, v);
      }
    }
    this.statusCode = status;
    if (status >= 200 && status < 400) {
      for (const h of this[kList] ?? []) {
        if (h.value === null) this.removeHeader(h.name);
        else {
          let v: string;
          try {
            v = h.value(ctx);
          } catch {
            continue; // a JavaScript template that threw (TemplateError): the response goes out without that field
          }
          this.setHeader(h.name, safeHeaderValue(v));
        }
      }
    }
    this.writeHead = orig;
    return reason === undefined ? orig.call(this, status) : (orig as (s: number, r: string) => ServerResponse).call(this, status, reason);
  };
  res.writeHead = wrapped as WriteHead;
}
