import { RouteMatcher } from '../src';
import { fetchText } from './helpers';
import { PATHS, PathRouters } from './paths';

/**
 * Unit runs at most 256 actions for one request (nxt_http_request_action: `pass_count`, 8 bits): the listener's
 * `pass` is the first, every route a `pass` leads to one more, the app (or return, share, proxy) the last. A longer
 * chain, or a loop, is answered 500. Every way Warden follows routes keeps that one limit.
 */
function chain(n: number, last: Record<string, unknown>): Record<string, unknown[]> {
  const routes: Record<string, unknown[]> = {};
  for (let i = 0; i < n; i++) routes[`r${i}`] = [{ action: i === n - 1 ? last : { pass: `routes/r${i + 1}` } }];
  return routes;
}

describe.each(PATHS)('pass chains on the %s path', (kind) => {
  const routers = new PathRouters();
  afterEach(() => routers.cleanup());

  it("follows 255 routes to the app (256 actions, Unit's limit)", async () => {
    const s = await routers.start(kind, { pass: 'routes/r0' }, { routes: chain(255, { pass: 'applications/app' }) });
    const r = await fetchText(s.port, '/x');
    expect(r.status).toBe(200);
    expect(s.served()).toBe(1);
  });

  it('answers 500 for a chain of 256 routes, without reaching the app', async () => {
    const s = await routers.start(kind, { pass: 'routes/r0' }, { routes: chain(256, { pass: 'applications/app' }) });
    const r = await fetchText(s.port, '/x');
    expect(r.status).toBe(500);
    expect(s.served()).toBe(0);
  });

  it('answers 500 for a route passing to itself', async () => {
    const s = await routers.start(kind, { pass: 'routes/loop' }, { routes: { loop: [{ action: { pass: 'routes/loop' } }] } });
    expect((await fetchText(s.port, '/x')).status).toBe(500);
  });

  it('counts a rewrite on the way without changing the limit, and the app sees the rewritten target', async () => {
    const routes = chain(255, { pass: 'applications/app' });
    routes.r0 = [{ action: { pass: 'routes/r1', rewrite: '/rewritten' } }];
    const s = await routers.start(kind, { pass: 'routes/r0' }, { routes });
    const r = await fetchText(s.port, '/x');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).url).toBe('/rewritten');
  });
});

describe('RouteMatcher pass chains', () => {
  const req = { method: 'GET', url: '/', headers: {} };

  it('follows 255 routes to the action the request reaches (the same limit as the router)', () => {
    const m = new RouteMatcher(chain(255, { return: 204 }));
    expect(m.match(req, 'r0')).toEqual({ route: 'r254', step: 0, action: { return: 204 } });
  });

  it('gives null for a chain of 256 routes and for a loop (the router answers 500)', () => {
    expect(new RouteMatcher(chain(256, { return: 204 })).match(req, 'r0')).toBeNull();
    expect(new RouteMatcher({ loop: [{ action: { pass: 'routes/loop' } }] }).match(req, 'loop')).toBeNull();
  });
});
