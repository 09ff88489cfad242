import { createHmac } from 'crypto';
import fs from 'fs';
import path from 'path';
import { checkJsModule, HttpRouter, JsModuleError, RouterConfigError } from '../src';
import { EchoGateway, fetchText, rawRequest, routerScope, slowHead } from './helpers';
import { LeanGateway } from './lean-gateway';

/**
 * Unit's njs template literals: a string that starts with a backtick is a JavaScript expression of uri, host,
 * remoteAddr, args, headers, cookies and vars (Unit's test_njs.py cases, and each option that takes one).
 */
const { routers, start, tmpDir, compileError } = routerScope('router-js-');

/** A share of `assets` holding `files`, served through `share` (a template with `${dir}` standing for the assets). */
async function shareOf(files: string[], share: string) {
  const dir = tmpDir();
  const assets = path.join(dir, 'assets');
  fs.mkdirSync(assets);
  for (const f of files) fs.writeFileSync(path.join(assets, f), f);
  return start({ pass: 'routes' }, { routes: [{ action: { share: share.replace('${dir}', assets) } }] });
}

describe('share with a template (Unit test_njs.py)', () => {
  it('literal text: backslash escapes, a backtick inside, a line break', async () => {
    const { port } = await shareOf(['str', '`backtick', 'l1\nl2'], '`${dir}/str`');
    expect((await fetchText(port, '/')).body).toBe('str');
    const b = await shareOf(['`backtick'], '`${dir}/\\`backtick`');
    expect((await fetchText(b.port, '/')).body).toBe('`backtick');
    const n = await shareOf(['l1\nl2'], '`${dir}/l1\\nl2`');
    expect((await fetchText(n.port, '/')).body).toBe('l1\nl2');
  });

  it('a backtick that does not start the string is plain text with variables', async () => {
    const { port } = await shareOf(['`string`'], '${dir}/`string`');
    expect((await fetchText(port, '/')).body).toBe('`string`');
  });

  it('expressions of uri and host, nested templates', async () => {
    for (const [expr, url, file] of [
      ['${uri}', '/str', 'str'],
      ['${uri}${host}', '/', 'localhost'],
      ['${uri + host}', '/', 'localhost'],
      ['${uri + `${host}`}', '/', 'localhost'],
    ]) {
      const { port } = await shareOf([file], '`${dir}' + expr + '`');
      expect((await fetchText(port, url, { host: 'localhost' })).status).toBe(200);
    }
  });

  it('headers iterate by the names the client sent', async () => {
    const { port } = await shareOf(['Connection,Host'], '`${dir}/${Object.keys(headers).sort().join()}`');
    const t = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    expect(t).toMatch(/^HTTP\/1\.1 200 /);
    const v = await shareOf(['close,localhost'], '`${dir}/${Object.values(headers).sort().join()}`');
    expect(await rawRequest(v.port, 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('host, remoteAddr, headers, cookies, args, vars', async () => {
    const files = ['localhost', '127.0.0.1', 'str', 'GET', 'undefined'];
    for (const [expr, opts, url] of [
      ['${host}', {}, '/'],
      ['${remoteAddr}', {}, '/'],
      ['${headers.Host}', {}, '/'],
      ['${cookies.foo}', { Cookie: 'foo=str' }, '/'],
      ['${args.foo}', {}, '/?foo=str'],
      ['${vars.method}', {}, '/'],
      ['${vars.arg_foo}', {}, '/?foo=str'],
      ['${vars["header_host"]}', {}, '/'],
      ['${vars.non_exist}', {}, '/'],
    ] as const) {
      const { port } = await shareOf(files, '`${dir}/' + expr + '`');
      const r = await fetchText(port, url, { headers: { Host: 'localhost', ...opts } });
      expect([expr, r.status]).toEqual([expr, 200]);
    }
  });

  it('a template that throws when it runs is answered 500', async () => {
    for (const t of ['`${a}`', '`${uri.a.a}`', '`${vars.a.a}`']) {
      const { port } = await start({ pass: 'routes' }, { routes: [{ action: { share: t } }] });
      expect((await fetchText(port, '/')).status).toBe(500);
    }
  });
});

describe('templates that do not compile are refused', () => {
  it.each(['`a', '`a``', '`a`/', '`${vars.}`', '`a`)\n}); (function () { return (`x`'])('%j', async (share) => {
    const err = await compileError({ listeners: {}, routes: [{ action: { share } }] });
    expect(err).toBeInstanceOf(RouterConfigError);
    expect(err.path).toBe('/routes/0/action/share');
    expect(err.message).toMatch(/^"SyntaxError: /);
  });
});

describe('every option that takes variables takes a template', () => {
  it('pass, on the node:http path and the lean path', async () => {
    const routes = [{ action: { pass: '`applications/${args.to || "app"}`' } }];
    for (const gateway of [new EchoGateway(), new LeanGateway()]) {
      const { port } = await start({ pass: 'routes' }, { routes }, gateway);
      expect(JSON.parse((await fetchText(port, '/?to=other')).body).app).toBe('other');
      expect(JSON.parse((await fetchText(port, '/')).body).app).toBe('app');
      expect((await fetchText(port, '/?to=nope')).status).toBe(404);
    }
    const lean = new LeanGateway();
    const { port } = await start({ pass: 'routes' }, { routes: [{ action: { pass: '`applications/${nope}`' } }] }, lean);
    expect((await fetchText(port, '/')).status).toBe(500);
    expect(lean.lean).toBe(0);
  });

  it('return location, rewrite, match if', async () => {
    const { port } = await start(
      { pass: 'routes' },
      {
        routes: [
          { match: { if: '`${args.go === "1"}`' }, action: { return: 302, location: '`/to${uri.toUpperCase()}`' } },
          { match: { if: '!`${args.go === "2"}`' }, action: { return: 204 } },
          { action: { rewrite: '`/app${uri}`', pass: 'applications/app' } },
        ],
      },
    );
    const moved = await fetchText(port, '/abc?go=1');
    expect([moved.status, moved.headers.location]).toEqual([302, '/to/ABC']);
    expect((await fetchText(port, '/abc')).status).toBe(204);
    expect(JSON.parse((await fetchText(port, '/abc?go=2')).body).url).toBe('/app/abc?go=2');
  });

  it('response_headers: a value, and a template that throws leaves its field out', async () => {
    const { port } = await start(
      { pass: 'routes' },
      { routes: [{ action: { pass: 'applications/app', response_headers: { 'X-Up': '`${headers["X-In"].toUpperCase()}`' } } }] },
    );
    expect((await fetchText(port, '/', { headers: { 'X-In': 'abc' } })).headers['x-up']).toBe('ABC');
    const r = await fetchText(port, '/');
    expect(r.status).toBe(200);
    expect(r.headers['x-up']).toBeUndefined();
  });

  it('access_log format and if', async () => {
    const log = path.join(tmpDir(), 'access.log');
    const { port, router } = await start(
      { pass: 'routes' },
      { routes: [{ action: { return: 204 } }], access_log: { path: log, format: '`${vars.method} ${uri} ${vars.status}`', if: '`${uri !== "/skip"}`' } },
    );
    await fetchText(port, '/a');
    await fetchText(port, '/skip');
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    expect(fs.readFileSync(log, 'utf8')).toBe('GET /a 204\n');
  });

  it('access_log: vars.body_bytes_sent and vars.request_time are counted as for $body_bytes_sent and $request_time', async () => {
    const log = path.join(tmpDir(), 'access.log');
    const { port, router } = await start(
      { pass: 'routes' },
      { routes: [{ action: { pass: 'applications/app' } }], access_log: { path: log, format: '`${vars.body_bytes_sent} ${vars["request_time"]}`' } },
    );
    const fast = await fetchText(port, '/fast');
    (await slowHead(port, 'GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 22, 300)).destroy();
    await router.close(100);
    routers.splice(routers.indexOf(router), 1);
    const [first, slow] = fs
      .readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number));
    expect(first[0]).toBe(Buffer.byteLength(fast.body));
    expect(slow[1]).toBeGreaterThanOrEqual(0.29);
  });

  it('a template sees JavaScript only: no process, require or the router', async () => {
    const { port } = await start(
      { pass: 'routes' },
      { routes: [{ action: { return: 302, location: '`/${typeof process},${typeof require},${typeof globalThis.setTimeout}`' } }] },
    );
    expect((await fetchText(port, '/')).headers.location).toBe('/undefined,undefined,undefined');
    const ev = await start({ pass: 'routes' }, { routes: [{ action: { return: 302, location: '`/${eval("1")}${new Function("return 2")()}`' } }] });
    expect((await fetchText(ev.port, '/')).status).toBe(500);
  });
});

describe('settings.js_module: modules whose default export templates call (Unit test_njs_modules.py)', () => {
  const next = 'export default {\n    "route": function() {return \'next\'}\n}\n';
  const routes = (pass: string) => ({ first: [{ action: { pass } }], next: [{ action: { return: 200 } }], other: [{ action: { return: 204 } }] });

  it('a module named in settings.js_module (string or array) is a global of templates', async () => {
    for (const js_module of ['next', ['next']]) {
      const { port } = await start({ pass: 'routes/first' }, { settings: { js_module }, jsModules: { next }, routes: routes('`routes/${next.route()}`') });
      expect((await fetchText(port, '/')).status).toBe(200);
    }
    const two = await start(
      { pass: 'routes/first' },
      {
        settings: { js_module: ['next', 'next_2'] },
        jsModules: { next, next_2: next.replace("'next'", "'other'") },
        routes: routes('`routes/${next_2.route()}`'),
      },
    );
    expect((await fetchText(two.port, '/')).status).toBe(204);
  });

  it('a module may import another uploaded module; each runs once', async () => {
    const jsModules = {
      counter: 'let n = 0;\nexport default { next() { return ++n; } };\n',
      names: "import counter from 'counter';\nconst first = counter.next();\nexport default { route() { return first === 1 ? 'next' : 'other'; } };\n",
    };
    const { port } = await start(
      { pass: 'routes/first' },
      { settings: { js_module: ['counter', 'names'] }, jsModules, routes: routes('`routes/${names.route()}`') },
    );
    expect((await fetchText(port, '/')).status).toBe(200);
  });

  it("njs's crypto and querystring modules can be imported (Unit's import_from script)", async () => {
    const jsModules = {
      import_from: "import cr from 'crypto';\n\nexport default {\n    \"num\" : function () {return typeof cr.createHash('md5').digest().length}\n}\n",
      sig: "import crypto from 'crypto';\nimport qs from 'querystring';\nexport default { s(a) { return crypto.createHmac('sha256', 'k').update(qs.stringify(a)).digest('hex'); } };\n",
    };
    const { port } = await start(
      { pass: 'routes/first' },
      {
        settings: { js_module: ['import_from', 'sig'] },
        jsModules,
        routes: { first: [{ action: { pass: '`routes/${import_from.num()}`' } }], number: [{ action: { return: 302, location: '`/${sig.s(args)}`' } }] },
      },
    );
    const r = await fetchText(port, '/?a=1');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/' + createHmac('sha256', 'k').update('a=1').digest('hex'));
  });

  it('a module sees JavaScript only, in strict mode', async () => {
    const jsModules = {
      probe: 'export default { s() { return [typeof process, typeof require, typeof globalThis.setTimeout, (function () { return this; })()].join(); } };\n',
    };
    const { port } = await start(
      { pass: 'routes' },
      { settings: { js_module: 'probe' }, jsModules, routes: [{ action: { return: 302, location: '`/${probe.s()}`' } }] },
    );
    expect((await fetchText(port, '/')).headers.location).toBe('/undefined,undefined,undefined,');
  });

  it('a module that is missing, imports itself or throws while it loads fails the config at /settings/js_module', async () => {
    for (const [jsModules, message] of [
      [{}, 'Module "m" is not found.'],
      [{ m: "import m from 'm';\nexport default 1;\n" }, 'Module "m" imports itself.'],
      [{ m: "throw new Error('no');\n" }, 'Module "m" failed while loading: Error: no'],
    ] as const) {
      const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
      routers.push(router);
      const err = await router.prepare({ listeners: {}, settings: { js_module: 'm' }, jsModules }).then(
        () => null,
        (e: RouterConfigError) => e,
      );
      expect([err?.path, err?.message]).toEqual(['/settings/js_module', message]);
    }
  });

  it('checkJsModule: the text of Unit\'s "invalid" script, named exports and named imports do not compile', () => {
    expect(() => checkJsModule('next', next)).not.toThrow();
    for (const text of [
      'export default {\n    "route": function() {blah \'next\'}\n}\n',
      'export const a = 1;\n',
      "import { a } from 'b';\nexport default a;\n",
    ]) {
      expect(() => checkJsModule('m', text)).toThrow(JsModuleError);
    }
    expect(() => checkJsModule('m', 'export default {')).toThrow(/^SyntaxError: /);
  });
});
