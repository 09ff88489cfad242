import { createServer, type Server } from 'http';
import { mkdirSync, symlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, goBuild, haveGo, http, startWardend, worldDir, type Wardend } from './support/wardend';

/** Every action of Unit's routes, through a real wardend: pass, return, share, proxy, rewrite, response_headers, upstreams. */
describe('routes and actions through wardend', () => {
  let dir: string;
  let w: Wardend;
  let port: number;
  let backends: Server[] = [];
  const backendPorts: number[] = [];

  beforeAll(async () => {
    dir = worldDir('warden-routes-');
    const www = join(dir, 'www');
    mkdirSync(join(www, 'docs'), { recursive: true, mode: 0o755 });
    writeFileSync(join(www, 'index.html'), '<h1>home</h1>\n');
    writeFileSync(join(www, 'docs', 'a.txt'), 'alpha\n');
    writeFileSync(join(dir, 'secret.txt'), 'secret\n');
    symlinkSync(join(dir, 'secret.txt'), join(www, 'escape.txt'));
    for (const name of ['one', 'two']) {
      const s = createServer((req, res) => {
        res.setHeader('X-Backend', name);
        res.end(`${name} ${req.method} ${req.url} host=${req.headers.host} hop=${req.headers['x-hop'] ?? ''}\n`);
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      backends.push(s);
      backendPorts.push((s.address() as { port: number }).port);
    }
    w = await startWardend([], dir);
    port = await freePort();
    const apps: Record<string, unknown> = {};
    const appRoutes: unknown[] = [];
    if (haveGo()) {
      apps.echo = { type: 'external', executable: goBuild(join(ROOT, 'test/e2e/apps/echo'), join(dir, 'echo')) };
      appRoutes.push({ match: { uri: '/app/*' }, action: { pass: 'applications/echo', rewrite: '/pid' } });
    }
    const res = await w.control('PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'routes/main' } },
      routes: {
        main: [
          { match: { uri: '/old/*' }, action: { return: 301, location: 'http://example.test$request_uri' } },
          { match: { method: 'DELETE' }, action: { return: 405 } },
          { match: { uri: '/static/*' }, action: { share: `${www}$uri`, response_headers: { 'X-Served-By': 'share $method' } } },
          { match: { uri: ['/files/*', '!/files/private*'] }, action: { rewrite: '/docs/a.txt', share: `${www}$uri` } },
          { match: { uri: '/www/*' }, action: { share: `${dir}$uri`, chroot: www, follow_symlinks: false } },
          { match: { uri: '/proxy/*' }, action: { proxy: `http://127.0.0.1:${backendPorts[0]}` } },
          { match: { uri: '/balanced' }, action: { pass: 'upstreams/pool' } },
          { match: { headers: { 'X-Route': 'teapot' } }, action: { return: 418 } },
          {
            match: { uri: '/js/*' },
            action: { share: `\`${www}/docs/\${args.f ?? 'none'}.txt\``, response_headers: { 'X-Js': '`${vars.method}:${uri.length}`' } },
          },
          ...appRoutes,
        ],
      },
      upstreams: {
        pool: { servers: { [`127.0.0.1:${backendPorts[0]}`]: { weight: 2 }, [`127.0.0.1:${backendPorts[1]}`]: { weight: 1 } } },
      },
      applications: apps,
    });
    expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
  });
  afterAll(async () => {
    await w?.stop();
    for (const s of backends) s.close();
    backends = [];
    cleanup(dir);
  });

  it('return: status and a location with variables', async () => {
    const res = await http(port, '/old/page?q=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('http://example.test/old/page?q=1');
    expect((await http(port, '/anything', { method: 'DELETE' })).status).toBe(405);
  });

  it("template literals (Unit's njs scripting) in share and response_headers; one that does not parse is refused", async () => {
    const res = await http(port, '/js/x?f=a');
    expect([res.status, res.body.toString(), res.headers['x-js']]).toEqual([200, 'alpha\n', 'GET:5']);
    expect((await http(port, '/js/x')).status).toBe(404);
    const bad = await w.control('PUT', '/config/routes/main/0/action/location', JSON.stringify('`${uri`'));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('SyntaxError');
  });

  it('js_modules: an uploaded module named in settings.js_module is a global of templates, kept while in use', async () => {
    const module = "export default {\n  tag(m) { return 'mod-' + m.toLowerCase(); }\n};\n";
    expect(await w.control('PUT', '/js_modules/tags', module)).toEqual({ status: 200, body: { success: 'Script uploaded.' } });
    expect((await w.control('GET', '/js_modules/tags')).body).toBe(module);
    expect(await w.control('PUT', '/config/settings', { js_module: 'tags' })).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
    const header = '/config/routes/main/8/action/response_headers/X-Js';
    expect((await w.control('PUT', header, JSON.stringify('`${tags.tag(vars.method)}`'))).status).toBe(200);
    expect((await http(port, '/js/x?f=a')).headers['x-js']).toBe('mod-get');
    expect((await w.control('DELETE', '/js_modules/tags')).status).toBe(400);
    expect((await w.control('PUT', header, JSON.stringify('`${vars.method}:${uri.length}`'))).status).toBe(200);
    expect((await w.control('DELETE', '/config/settings')).status).toBe(200);
    expect(await w.control('DELETE', '/js_modules/tags')).toEqual({ status: 200, body: { success: 'Script deleted.' } });
  });

  it('matches headers case-insensitively in values', async () => {
    expect((await http(port, '/x', { headers: { 'X-Route': 'TEAPOT' } })).status).toBe(418);
  });

  it('no matching step gives 404', async () => {
    expect((await http(port, '/nowhere')).status).toBe(404);
  });

  it('share: serves a file with its MIME type, ETag and response_headers', async () => {
    mkdirSync(join(dir, 'www', 'static'), { recursive: true });
    writeFileSync(join(dir, 'www', 'static', 'style.css'), 'body{}\n');
    const res = await http(port, '/static/style.css');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/css/);
    expect(res.headers['x-served-by']).toBe('share GET');
    expect(res.body.toString()).toBe('body{}\n');
    const again = await http(port, '/static/style.css', { headers: { 'If-None-Match': String(res.headers.etag) } });
    expect(again.status).toBe(304);
  });

  it('share: refuses path traversal, encoded or not, and symlinks out of the chroot', async () => {
    for (const path of ['/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/..%2fsecret.txt']) {
      const res = await http(port, path);
      expect([400, 403, 404]).toContain(res.status);
      expect(res.body.toString()).not.toContain('secret');
    }
    const viaLink = await http(port, '/www/escape.txt');
    expect([403, 404]).toContain(viaLink.status);
  });

  it('rewrite: the uri is replaced before the action, and negated patterns in arrays exclude', async () => {
    expect((await http(port, '/files/whatever')).body.toString()).toBe('alpha\n');
    expect((await http(port, '/files/private.txt')).status).toBe(404);
  });

  it('proxy: forwards the request and strips hop-by-hop headers', async () => {
    const res = await http(port, '/proxy/x?y=1', { headers: { Connection: 'keep-alive, X-Hop', 'X-Hop': '1' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-backend']).toBe('one');
    expect(res.body.toString()).toMatch(/^one GET \/proxy\/x\?y=1 /);
    expect(res.body.toString()).toMatch(/ hop=\n$/);
  });

  it('upstreams: weighted round robin (2:1)', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push(String((await http(port, '/balanced')).headers['x-backend']));
    expect(seen.filter((s) => s === 'one').length).toBe(4);
    expect(seen.filter((s) => s === 'two').length).toBe(2);
  });

  (haveGo() ? it : it.skip)('pass: a route passes to an application, with rewrite', async () => {
    const res = await http(port, '/app/anything');
    expect(res.status).toBe(200);
    expect(Number(res.body.toString())).toBeGreaterThan(1);
  });
});
