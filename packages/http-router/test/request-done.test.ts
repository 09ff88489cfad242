import { HttpRouter, type ApplicationGateway, type CompletedRequest } from '../src';
import { EchoGateway, fetchText } from './helpers';
import { LeanGateway } from './lean-gateway';

/** The per-request completion hook (HttpRouterOptions.onRequestDone) on both paths. */
describe('onRequestDone', () => {
  const routers: HttpRouter[] = [];
  afterEach(async () => {
    await Promise.all(routers.splice(0).map((r) => r.close(100)));
  });

  async function start(gateway: ApplicationGateway, routes: unknown[]) {
    const done: CompletedRequest[] = [];
    let wake = () => {};
    const router = new HttpRouter({
      gateway,
      onRequestDone: (r) => {
        done.push({ ...r });
        wake();
      },
    });
    /** Resolves once `n` requests were reported. */
    const reported = (n: number) => new Promise<void>((resolve) => (wake = () => done.length >= n && resolve())).then(() => undefined);
    routers.push(router);
    const prepared = await router.prepare({ applications: { app: {} }, routes, listeners: { '127.0.0.1:0': { pass: 'routes' } } });
    await prepared.commit();
    return { port: router.addresses()['127.0.0.1:0'].port, done, reported };
  }

  const routes = [
    { match: { uri: '/app' }, action: { pass: 'applications/app' } },
    { match: { uri: '/teapot' }, action: { return: 418 } },
  ];

  it.each([
    ['node:http', () => new EchoGateway()],
    ['lean', () => new LeanGateway()],
  ] as const)('reports listener, status, app and path once per request (%s gateway)', async (_name, make) => {
    const { port, done, reported } = await start(make(), routes);
    const all = reported(3);
    await fetchText(port, '/app');
    await fetchText(port, '/teapot');
    await fetchText(port, '/none');
    await all;
    const lean = make() instanceof LeanGateway;
    expect(done.map(({ listener, status, app, path }) => ({ listener, status, app, path }))).toEqual([
      { listener: '127.0.0.1:0', status: 200, app: 'app', path: lean ? 'lean' : 'node:http' },
      { listener: '127.0.0.1:0', status: 418, app: null, path: 'node:http' },
      { listener: '127.0.0.1:0', status: 404, app: null, path: 'node:http' },
    ]);
    for (const r of done) expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });
});
