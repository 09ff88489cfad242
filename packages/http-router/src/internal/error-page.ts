import type { ServerResponse } from 'http';

/** Unit's small HTML error page for `status` (node:http and lean paths). */
export function errorPageBody(status: number): string {
  return `<!DOCTYPE html><title>Error ${status}</title><p>Error ${status}.\r\n`;
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
