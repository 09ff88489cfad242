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
export function errorPageHead(status: number, body: string, serverHeader: string, date: string, line = statusLine(status)): string {
  const head = line + 'Content-Type: text/html\r\nContent-Length: ' + body.length + '\r\nServer: ' + serverHeader + '\r\nDate: ' + date + '\r\n';
  return status === 426 ? head + 'Sec-WebSocket-Version: 13\r\n' : head;
}

/**
 * Unit's error page for `status` as a whole raw response that closes the connection (`line`: a status line of its
 * own, as Unit's 497 has), for answers written straight onto a socket.
 */
export function closingErrorPage(status: number, serverHeader: string, line?: string): string {
  const body = errorPageBody(status);
  return errorPageHead(status, body, serverHeader, new Date().toUTCString(), line) + 'Connection: close\r\n\r\n' + body;
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

/** Unit's reason phrases (nxt_h1proto.c); a code without one gets an empty phrase (Unit: none). */
const UNIT_REASONS: Record<number, string> = {
  100: 'Continue',
  101: 'Switching Protocols',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable',
  417: 'Expectation Failed',
  426: 'Upgrade Required',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Unit's reason phrase for `status` (its status-line tables), or none (`HTTP/1.1 <status> `). */
export function unitReason(status: number): string {
  return UNIT_REASONS[status] ?? '';
}

/** The most 1xx responses (103 Early Hints, say) passed on for one request; more are dropped. */
export const MAX_INFORMATIONAL = 32;
/** Bytes waiting in a client socket above which an app's 1xx responses are dropped instead of queued. */
export const INFORMATIONAL_BACKLOG = 64 * 1024;

/**
 * Whether the `n`th 1xx response of a request goes to the client on `sock`. They are advisory (a client or an
 * intermediary may do without them), and they are not flow-controlled as bodies are: an app that sent them without
 * end to a client that does not read grew the router's memory by hundreds of MB and stalled it for every listener.
 */
export function informationalFits(n: number, sock: { writableLength: number } | null): boolean {
  return n <= MAX_INFORMATIONAL && (sock === null || sock.writableLength <= INFORMATIONAL_BACKLOG);
}
