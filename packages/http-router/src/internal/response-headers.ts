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

/**
 * Applies an action's `response_headers` to whatever the action (or the app) sends: `writeHead` of this one response
 * is wrapped so the headers are set or removed last, after the app's own, with `$status` already known. A value whose
 * JavaScript template throws leaves that field out (the app's response is already under way).
 */
export function installResponseHeaders(ctx: NodeRequestContext, list: Array<{ name: string; value: Template | null }>): void {
  const res = ctx.res;
  const orig: WriteHead = res.writeHead;
  const wrapped = function (this: ServerResponse, status: number, a?: unknown, b?: unknown): ServerResponse {
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
    for (const h of list) {
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
    this.writeHead = orig;
    return reason === undefined ? orig.call(this, status) : (orig as (s: number, r: string) => ServerResponse).call(this, status, reason);
  };
  res.writeHead = wrapped as WriteHead;
}
