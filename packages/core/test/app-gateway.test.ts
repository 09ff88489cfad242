import { createServer, request, type Server } from 'http';
import type { AddressInfo } from 'net';
import type { RouterStreamSink } from '@warden/shm-transport';
import { AppGateway } from '../src/runtime/app-gateway';
import type { ChannelWorker as AppWorker, InFlight, RouterPool as AppPool } from '../src/runtime/fleet/router-pool';

/** A process stand-in: records what the gateway does on its channel. */
function fakeWorker() {
  const log: string[] = [];
  const inFlight = new Set<InFlight>();
  let sink: RouterStreamSink | null = null;
  const stream = {
    setSink(s: RouterStreamSink) {
      sink = s;
    },
    abort: () => log.push('abort'),
    endBody: () => log.push('endBody'),
    writeBody: () => true,
    pause() {},
    resume() {},
  };
  const worker = {
    channel: { writePosition: 0, request: () => (log.push('request'), stream) },
    attach: (r: InFlight) => inFlight.add(r),
    detach: (r: InFlight) => inFlight.delete(r),
  } as unknown as AppWorker;
  return { worker, log, inFlight, sink: () => sink };
}

describe('AppGateway on the node:http path', () => {
  let server: Server;
  afterEach(() => new Promise<void>((r) => server.close(() => r())));

  it('aborts the stream at once when the client went away while its request waited for a process, as on the lean path', async () => {
    let release: ((w: AppWorker | undefined) => void) | undefined;
    const pool = { policy: { timeoutMs: 0 }, acquire: (cb: (w: AppWorker | undefined) => void) => (release = cb) } as unknown as AppPool;
    const gateway = new AppGateway({ pool: () => pool });
    const closed = new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        res.on('close', () => resolve());
        gateway.handle('a', undefined, req, res, { remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0, scheme: 'http' });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/' });
    req.on('error', () => {});
    req.end();
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (release) {
          clearInterval(t);
          r();
        }
      }, 5);
    });
    req.destroy();
    await closed;

    const w = fakeWorker();
    release!(w.worker);
    expect(w.log).toEqual(['request', 'endBody', 'abort']);
    expect(w.inFlight.size).toBe(0); // not counted as busy until the app answers
  });

  it('answers 502 when the app ends a stream without a response (a retired process shutting down), not nothing', async () => {
    const w = fakeWorker();
    const pool = { policy: { timeoutMs: 0 }, acquire: (cb: (x: AppWorker | undefined) => void) => cb(w.worker) } as unknown as AppPool;
    const gateway = new AppGateway({ pool: () => pool });
    server = createServer((req, res) => {
      gateway.handle('a', undefined, req, res, { remoteAddress: '', remotePort: 0, localAddress: '', localPort: 0, scheme: 'http' });
      setImmediate(() => w.sink()!.onEnd()); // END before any RESPONSE
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.setTimeout(3000, () => req.destroy(new Error('no answer')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(502);
  });
});
