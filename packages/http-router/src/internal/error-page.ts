import { STATUS_CODES, type ServerResponse } from 'http';

const statusLines: string[] = [];

/** `HTTP/1.1 <status> <node:http's phrase>` CRLF, made once per status. */
export function statusLine(status: number): string {
  return (statusLines[status] ??= 'HTTP/1.1 ' + status + ' ' + (STATUS_CODES[status] || 'unknown') + '\r\n');
}

/** Unit's small HTML error page for `status` (node:http and lean paths). */
export function errorPageBody(status: number): string {
  return `<!DOCTYPE html><title>Error ${status}</title><p>Error ${status}.\r\n`;
}

/**
 * Unit's error page written raw (the lean path, heads node:http refused), up to its connection field: status line,
 * Content-Type, Content-Length, Server, Date, in the order node:http writes sendError's.
 */
export function errorPageHead(status: number, body: string, serverHeader: string, date: string): string {
  const head = statusLine(status) + 'Content-Type: text/html\r\nContent-Length: ' + body.length + '\r\nServer: ' + serverHeader + '\r\nDate: ' + date + '\r\n';
  return status === 426 ? head + 'Sec-WebSocket-Version: 13\r\n' : head;
}

/** Sends Unit's small HTML error page with `status` and closes the response (no-op when already answered). */
export function sendError(res: ServerResponse, status: number, close = false): void {
  if (res.headersSent) {
    if (!res.writableEnded) res.destroy();
    return;
  }
  const body = errorPageBody(status);
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html');
  res.setHeader('Content-Length', body.length);
  if (close) res.shouldKeepAlive = false;
  res.end(body);
}
