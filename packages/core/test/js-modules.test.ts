import { existsSync, readFileSync, statSync, writeFileSync } from 'fs';
import { get } from 'http';
import { join } from 'path';
import pino from 'pino';
import type { WardenConfig } from '../src/contracts';
import { RouterFleet } from '../src/runtime/fleet/router-fleet';
import { DONE, harness } from './harness';
import { freePort } from './process-helpers';

/** `/js_modules` and `settings.js_module` as Unit answers them (Unit's test_njs_modules.py, and the store's files). */
const NEXT = 'export default {\n    "route": function() {return \'next\'}\n}\n';
const INVALID = 'export default {\n    "route": function() {blah \'next\'}\n}\n';
const UPLOADED = { status: 200, body: { success: 'Script uploaded.' } };
const DELETED = { status: 200, body: { success: 'Script deleted.' } };
const withModules = (js_module: unknown, pass = '`routes/${next.route()}`') => ({
  settings: { js_module },
  listeners: {},
  routes: { first: [{ action: { pass } }], next: [{ action: { return: 200 } }] },
});

describe('control API: /js_modules', () => {
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    h = harness({ scripts: true });
  });
  afterEach(() => h.cleanup());

  it('stores a module (mode 0600), answers its text and lists it; GET / shows js_modules', async () => {
    expect(await h.req('PUT', '/js_modules/next', NEXT)).toEqual(UPLOADED);
    const file = join(h.statedir, 'scripts', 'next');
    expect(readFileSync(file, 'utf8')).toBe(NEXT);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await h.req('GET', '/js_modules/next')).toEqual({ status: 200, body: NEXT });
    expect(await h.req('GET', '/js_modules/NEXT')).toEqual({ status: 200, body: NEXT }); // names: any case
    expect(await h.req('GET', '/js_modules')).toEqual({ status: 200, body: { next: NEXT } });
    expect(await h.req('GET', '/js_modules/zzz')).toEqual({ status: 404, body: { error: "Script doesn't exist." } });
    expect(Object.keys((await h.req('GET', '/')).body as object)).toEqual(['js_modules', 'config', 'status']);
  });

  it('refuses a module that does not compile, a second upload of a name, other methods and bad names', async () => {
    const bad = await h.req('PUT', '/js_modules/invalid', INVALID);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({
      error: 'Compilation of the JS module failed.',
      detail: expect.stringMatching(/^WARDEN_ERR_SCRIPT_INVALID: SyntaxError: /),
    });
    expect(existsSync(join(h.statedir, 'scripts', 'invalid'))).toBe(false);
    await h.req('PUT', '/js_modules/next', NEXT);
    expect(await h.req('PUT', '/js_modules/next', NEXT)).toMatchObject({ status: 400, body: { error: 'Script already exists.' } });
    expect(await h.req('POST', '/js_modules/next', '"blah"')).toEqual({ status: 405, body: { error: 'Invalid method.' } });
    expect(await h.req('PUT', '/js_modules/a/b', NEXT)).toMatchObject({ status: 400, body: { error: 'Invalid script name.' } });
    expect(await h.req('PUT', '/js_modules', NEXT)).toMatchObject({ status: 400, body: { error: 'Invalid script name.' } });
  });

  it('settings.js_module must name stored modules (string or array); a used module cannot be deleted', async () => {
    const unknown = await h.req('PUT', '/config', JSON.stringify(withModules('next')));
    expect(unknown).toMatchObject({ status: 400, body: { error: 'Invalid configuration.' } });
    expect(JSON.stringify(unknown.body)).toContain('JS module \\"next\\" is not found.');
    await h.req('PUT', '/js_modules/next', NEXT);
    await h.req('PUT', '/js_modules/next_2', NEXT);
    expect(await h.req('PUT', '/config', JSON.stringify(withModules('next')))).toEqual({ status: 200, body: DONE });
    expect(await h.req('PUT', '/config/settings', JSON.stringify({ js_module: ['next'] }))).toEqual({ status: 200, body: DONE });
    expect(await h.req('POST', '/config/settings/js_module', '"next_2"')).toEqual({ status: 200, body: DONE });
    expect(await h.req('DELETE', '/js_modules/next_2')).toMatchObject({ status: 400, body: { error: 'Script is used in the configuration.' } });
    expect(await h.req('DELETE', '/config/settings/js_module')).toEqual({ status: 200, body: DONE });
    expect(await h.req('DELETE', '/js_modules/next_2')).toEqual(DELETED);
    expect(existsSync(join(h.statedir, 'scripts', 'next_2'))).toBe(false);
    expect(await h.req('DELETE', '/js_modules/next_2')).toEqual({ status: 404, body: { error: "Script doesn't exist." } });
  });

  it('keeps modules across a restart; a file that no longer compiles is skipped', async () => {
    await h.req('PUT', '/js_modules/next', NEXT);
    await h.req('PUT', '/config', JSON.stringify(withModules('next')));
    writeFileSync(join(h.statedir, 'scripts', 'broken'), INVALID);
    writeFileSync(join(h.statedir, 'scripts.tmp-1234'), 'left by a crash');
    const again = harness({ statedir: h.statedir, scripts: true });
    await again.controller.restore();
    expect(Object.keys((await again.req('GET', '/js_modules')).body as object)).toEqual(['next']);
    expect((await again.req('GET', '/config/settings/js_module')).body).toBe('next');
    expect(existsSync(join(h.statedir, 'scripts.tmp-1234'))).toBe(false);
  });

  it('the router processes run templates with the modules settings.js_module names', async () => {
    await h.req('PUT', '/js_modules/next', NEXT);
    const fleet = new RouterFleet(1, { uid: process.getuid!(), gid: process.getgid!(), groups: [] }, pino({ level: 'silent' }), undefined, h.scripts);
    const port = await freePort();
    const config = { ...withModules('next'), listeners: { [`127.0.0.1:${port}`]: { pass: 'routes/first' } } };
    await (await fleet.prepare(config as WardenConfig)).commit();
    try {
      const status = await new Promise<number>((resolve, reject) => {
        get({ host: '127.0.0.1', port, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      await fleet.shutdown();
    }
  });
});
