import { connect } from 'net';
import type { HttpRouter, RouterConfig } from '../src';
import { HEADER_BUFFER_SIZE, headFits } from '../src/internal/head-buffers';
import { startRouter } from './helpers';
import { LeanGateway } from './lean-gateway';

/** A head with `fields` (name, value) after `GET / HTTP/1.1`, CRLF line ends. */
function head(fields: [string, string][], target = '/'): string {
  return `GET ${target} HTTP/1.1\r\n` + fields.map(([n, v]) => `${n}: ${v}\r\n`).join('') + '\r\n';
}

const fits = (h: string, size = 8192, count = 4) => headFits(Buffer.from(h, 'latin1'), h.length, { size, count });

describe("Unit's header buffers (which heads are taken)", () => {
  it('a field value must be shorter than large_header_buffer_size (test_settings_large_header_buffer_size)', () => {
    for (const size of [4096, 16384]) {
      expect(
        fits(
          head([
            ['Host', 'a'.repeat(size - 1)],
            ['Connection', 'close'],
          ]),
          size,
        ),
      ).toBe(true);
      expect(
        fits(
          head([
            ['Host', 'a'.repeat(size)],
            ['Connection', 'close'],
          ]),
          size,
        ),
      ).toBe(false);
    }
    // Leading spaces of the value are not kept; the value's end counts once its CR was read.
    expect(fits(head([['X', ' '.repeat(3000) + 'a'.repeat(4095)]]), 4096)).toBe(true);
  });

  it('at most large_header_buffers buffers after the first (test_settings_large_header_buffers)', () => {
    const big = (n: number): string => {
      const f: [string, string][] = [
        ['Host', 'localhost'],
        ['Connection', 'close'],
      ];
      for (let i = 0; i < n; i++) f.push([`Custom-header-${i}`, 'a'.repeat(8000)]);
      return head(f);
    };
    for (const n of [1, 2, 8]) {
      expect(fits(big(n), 8192, n)).toBe(true);
      expect(fits(big(n + 1), 8192, n)).toBe(false);
    }
  });

  it('the request line must fit in one large buffer; a head within the first buffer always fits', () => {
    expect(fits(head([], '/' + 'a'.repeat(4096 - 16)), 4096)).toBe(true); // the line with its CRLF: 4096 bytes
    expect(fits(head([], '/' + 'a'.repeat(4096 - 15)), 4096)).toBe(false);
    expect(fits(head([['X', 'a'.repeat(HEADER_BUFFER_SIZE - 40)]]), 1, 1)).toBe(true);
  });
});

describe('the router answers 431 where Unit does, on both HTTP paths, with the settings in force', () => {
  const routers: HttpRouter[] = [];
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((r) => r.close(100)));
  });

  /** Status line of the answer to `request` (on a connection of its own). */
  function status(port: number, request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => (out += d.toString('latin1')));
      s.on('error', reject);
      s.on('close', () => resolve(out.split('\r\n')[0]!));
      s.write(request);
    });
  }

  for (const [path, rest] of [
    ['lean path (pass to an app)', {}],
    ['node:http (access_log)', { access_log: { path: '/dev/null' } }],
  ] as const) {
    it(path, async () => {
      const gw = new LeanGateway();
      const listener = { pass: 'applications/app' };
      const { router, port } = await startRouter(listener, rest, gw);
      routers.push(router);
      const value = (n: number) =>
        head([
          ['Host', 'a'.repeat(n - 1)],
          ['Connection', 'close'],
        ]);
      expect(await status(port, value(8192))).toBe('HTTP/1.1 200 OK');
      expect(await status(port, value(8193))).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      // A change applies to the listener's next heads (node:http's own limit included: 8 heads of 8000 bytes).
      const reconfigure = async (http: Record<string, number>) => {
        const cfg = { applications: { app: {} }, ...rest, settings: { http }, listeners: { '127.0.0.1:0': listener } } as RouterConfig;
        await (await router.prepare(cfg)).commit();
      };
      await reconfigure({ large_header_buffer_size: 4096 });
      expect(await status(port, value(4096))).toBe('HTTP/1.1 200 OK');
      expect(await status(port, value(4097))).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      await reconfigure({ large_header_buffers: 8 });
      const big = (n: number) =>
        head(Array.from({ length: n }, (_, i): [string, string] => [`Custom-header-${i}`, 'a'.repeat(8000)]).concat([['Connection', 'close']]));
      expect(await status(port, big(8))).toBe('HTTP/1.1 200 OK');
      expect(await status(port, big(9))).toBe('HTTP/1.1 431 Request Header Fields Too Large');
      // Behind a request that is answered, on the same connection.
      const both = await new Promise<string>((resolve) => {
        const s = connect(port, '127.0.0.1');
        let out = '';
        s.on('data', (d) => (out += d.toString('latin1')));
        s.on('close', () => resolve(out));
        s.write(head([['Host', 'x']]) + value(8193));
      });
      expect(both.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 431']);
    });
  }
});
