import type { HttpRouter } from '../src';
import { EchoGateway, rawRequest, startRouter } from './helpers';
import { LeanGateway } from './lean-gateway';

/** The field names of a raw response head, in order. */
function fieldNames(raw: string): string[] {
  return raw
    .split('\r\n\r\n')[0]
    .split('\r\n')
    .slice(1)
    .map((l) => l.slice(0, l.indexOf(':')));
}

describe("Unit's error page", () => {
  const routers: HttpRouter[] = [];
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((r) => r.close(100)));
  });

  it('has the same head and body whoever writes it: the lean path, node:http, or a head node:http refused', async () => {
    const lean = await startRouter({ pass: 'applications/app' }, {}, new LeanGateway());
    const node = await startRouter({ pass: 'applications/app' }, {}, new EchoGateway());
    routers.push(lean.router, node.router);
    const badTarget = 'GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n';
    const answers = [
      await rawRequest(lean.port, badTarget), // the lean parser's 400
      await rawRequest(node.port, badTarget), // node:http's request, answered with sendError
      await rawRequest(node.port, 'CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n'), // a head node:http does not hand over
    ];
    for (const a of answers) {
      expect(a.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request');
      expect(fieldNames(a)).toEqual(['Content-Type', 'Content-Length', 'Server', 'Date', 'Connection']);
      expect(a.split('\r\n\r\n')[1]).toBe('<!DOCTYPE html><title>Error 400</title><p>Error 400.\r\n');
    }
  });
});
