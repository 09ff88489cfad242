import { execFileSync } from 'child_process';
import * as path from 'path';

// The router processes run the request path only: they must not load what main alone needs (ajv, compiled by main to
// validate configs; prom-client, main's metrics registry). Each costs about 4-5 MB of heap and code per router.
describe('router process modules', () => {
  it('loads neither ajv nor prom-client', () => {
    const entry = path.resolve(__dirname, '../dist/runtime/fleet/router-process.js');
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['-e', `require(${JSON.stringify(entry)}); process.stdout.write(JSON.stringify(Object.keys(require.cache)))`], {
        encoding: 'utf8',
      }),
    ) as string[];
    expect(loaded.some((f) => f.includes(`${path.sep}http-router${path.sep}`))).toBe(true); // it did load the router
    expect(loaded.filter((f) => /[\\/]node_modules[\\/](ajv|prom-client)[\\/]/.test(f))).toEqual([]);
  });
});

describe('router process V8 flags', () => {
  it('caps the young generation at 8 MB unless NODE_OPTIONS says otherwise', async () => {
    const { routerNodeFlags } = await import('../src/runtime/fleet/router-link');
    expect(routerNodeFlags({})).toEqual(['--max-semi-space-size=8']);
    expect(routerNodeFlags({ NODE_OPTIONS: '--max-old-space-size=512' })).toEqual(['--max-semi-space-size=8']);
    expect(routerNodeFlags({ NODE_OPTIONS: '--max-semi-space-size=32' })).toEqual([]);
  });
});

describe('router process environment', () => {
  it("is wardend's with the router's identity, without NODE_EXTRA_CA_CERTS", async () => {
    const { routerEnv } = await import('../src/runtime/fleet/router-link');
    const env = { PATH: '/usr/bin', NODE_OPTIONS: '--max-old-space-size=512', NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt', LANG: 'C.UTF-8' };
    expect(routerEnv('{"index":1}', env)).toEqual({
      PATH: '/usr/bin',
      NODE_OPTIONS: '--max-old-space-size=512',
      LANG: 'C.UTF-8',
      WARDEN_ROUTER: '{"index":1}',
    });
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/etc/ssl/certs/ca-certificates.crt'); // wardend's own is left alone
  });
});
