import { execFileSync } from 'child_process';
import * as fs from 'fs';
import { createServer as createNetServer, type Server as NetServer } from 'net';
import * as os from 'os';
import * as path from 'path';
import { HttpRouter, RouterConfigError } from '../src';
import { EchoGateway, fetchText, rawRequest } from './helpers';

// Static files as Unit 1.35 serves them (src/nxt_http_static.c, src/nxt_conf_validation.c, test/test_static*.py).

let dir: string;
let www: string;
let sockServer: NetServer;
const routers: HttpRouter[] = [];

beforeAll(async () => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'router-share-unit-')));
  www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'dir'), { recursive: true });
  fs.mkdirSync(path.join(www, 'di r'));
  fs.mkdirSync(path.join(www, 'ди ректория'));
  fs.writeFileSync(path.join(www, 'ди ректория', 'фа йл'), 'blah');
  fs.mkdirSync(path.join(www, 'chroot', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(www, 'index.html'), 'index');
  fs.writeFileSync(path.join(www, 'feed.xml'), '<x/>');
  fs.writeFileSync(path.join(www, 'app.js'), 'js');
  fs.writeFileSync(path.join(www, 'data.unknown'), 'unknown');
  fs.writeFileSync(path.join(www, 'README'), 'readme');
  fs.writeFileSync(path.join(www, 'dir', 'file'), 'file');
  fs.writeFileSync(path.join(www, 'chroot', 'inside.txt'), 'inside');
  fs.writeFileSync(path.join(dir, 'outside.txt'), 'outside');
  fs.symlinkSync(path.join(dir, 'outside.txt'), path.join(www, 'chroot', 'sub', 'abs-link'));
  fs.symlinkSync('../../../outside.txt', path.join(www, 'chroot', 'sub', 'rel-link'));
  fs.symlinkSync('../inside.txt', path.join(www, 'chroot', 'sub', 'in-link'));
  execFileSync('mkfifo', [path.join(www, 'fifo')]);
  fs.symlinkSync('/dev/null', path.join(www, 'device'));
  sockServer = createNetServer();
  await new Promise<void>((r) => sockServer.listen(path.join(www, 'socket'), r));
});
afterAll(async () => {
  await new Promise<void>((r) => sockServer.close(() => r()));
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});

async function serve(action: Record<string, unknown>, settings?: object): Promise<number> {
  const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
  routers.push(router);
  await (await router.prepare({ applications: { app: {} }, routes: [{ action }], settings, listeners: { '127.0.0.1:0': { pass: 'routes' } } })).commit();
  return router.addresses()['127.0.0.1:0'].port;
}

async function configError(action: Record<string, unknown>, settings?: object): Promise<RouterConfigError> {
  const router = new HttpRouter({ ephemeralPorts: true, gateway: new EchoGateway() });
  routers.push(router);
  try {
    await router.prepare({ routes: [{ action }], settings, listeners: { '127.0.0.1:0': { pass: 'routes' } } });
  } catch (e) {
    expect(e).toBeInstanceOf(RouterConfigError);
    return e as RouterConfigError;
  }
  throw new Error('the config was accepted');
}

describe('MIME types as Unit', () => {
  it('uses Unit built-in table (.xml is application/xml, .js application/javascript)', async () => {
    const port = await serve({ share: `${www}$uri` });
    expect((await fetchText(port, '/feed.xml')).headers['content-type']).toBe('application/xml');
    expect((await fetchText(port, '/app.js')).headers['content-type']).toBe('application/javascript');
    expect((await fetchText(port, '/')).headers['content-type']).toBe('text/html');
  });

  it('sends no Content-Type for a type it does not know', async () => {
    const port = await serve({ share: `${www}$uri` });
    const r = await fetchText(port, '/data.unknown');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBeUndefined();
    expect((await fetchText(port, '/README')).headers['content-type']).toBeUndefined();
  });

  it('takes mime_types entries without a dot as file names, compared without case', async () => {
    const port = await serve({ share: `${www}$uri` }, { http: { static: { mime_types: { 'text/x-code': 'readme', 'text/plain': ['.html', 'file'] } } } });
    expect((await fetchText(port, '/README')).headers['content-type']).toBe('text/x-code');
    expect((await fetchText(port, '/dir/file')).headers['content-type']).toBe('text/plain');
    expect((await fetchText(port, '/index.html')).headers['content-type']).toBe('text/plain'); // replaces the built-in .html
  });

  it('does not match a part of a file name', async () => {
    const port = await serve({ share: `${www}$uri` }, { http: { static: { mime_types: { 'text/x-blah': ['ile', 'fil', 'f', 'e', '.file'] } } } });
    expect((await fetchText(port, '/dir/file')).headers['content-type']).toBeUndefined();
  });

  it('refuses an extension declared for two types, compared without case', async () => {
    const e = await configError(
      { share: `${www}$uri` },
      { http: { static: { mime_types: { 'text/x-code': ['.h', '.c', 'readme'], 'text/plain': 'README' } } } },
    );
    expect(e.message).toBe('The "README" file extension has been declared for "text/x-code" and "text/plain" MIME types at the same time.');
    expect(e.path).toBe('/settings/http/static/mime_types/text~1plain');
    const e2 = await configError({ share: `${www}$uri` }, { http: { static: { mime_types: { 'text/x-code': ['.h', '.c'], 'text/plain': ['.C'] } } } });
    expect(e2.message).toBe('The ".C" file extension has been declared for "text/x-code" and "text/plain" MIME types at the same time.');
  });

  it('refuses an empty extension and a non-string one', async () => {
    expect((await configError({ share: www }, { http: { static: { mime_types: { 'text/plain': '' } } } })).message).toBe(
      'An empty file extension for the "text/plain" MIME type.',
    );
    expect((await configError({ share: www }, { http: { static: { mime_types: { 'text/plain': ['.a', 1] } } } })).message).toBe(
      'The "text/plain" MIME type array must contain only strings.',
    );
  });
});

describe('share paths, index and redirects as Unit', () => {
  it('serves a name outside ASCII sent unencoded, encoded, or with a fragment (test_static_space_in_name, _index_default)', async () => {
    const port = await serve({ share: `${www}$uri` });
    const get = (target: Buffer) =>
      rawRequest(port, Buffer.concat([Buffer.from('GET '), target, Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]));
    const raw = Buffer.from('/ди ректория/фа йл', 'utf8');
    for (const target of [raw, Buffer.from(encodeURI('/ди ректория/фа йл')), Buffer.concat([raw, Buffer.from('#x')])]) {
      const text = await get(target);
      expect([target.toString(), text.split('\r\n')[0], text.endsWith('\r\n\r\nblah')]).toEqual([target.toString(), 'HTTP/1.1 200 OK', true]);
    }
    expect((await get(Buffer.from('/#blah'))).endsWith('\r\n\r\nindex')).toBe(true);
  });

  it('takes an index name as far as a NUL in it, as Unit opens it (a C string), not 500', async () => {
    const port = await serve({ share: `${www}$uri`, index: 'README\u0000x' });
    expect(await fetchText(port, '/')).toMatchObject({ status: 200, body: 'readme' });
  });

  it('answers 404 for a directory when index is empty', async () => {
    const port = await serve({ share: `${www}$uri`, index: '' });
    expect((await fetchText(port, '/')).status).toBe(404);
    expect((await fetchText(port, '/index.html')).body).toBe('index');
  });

  it('redirects a directory named without a slash: 301, Location, Content-Length 0, no body, no Content-Type', async () => {
    const port = await serve({ share: `${www}$uri` });
    const r = await rawRequest(port, 'GET /dir HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [head, body] = r.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 301 Moved Permanently\r\n/);
    expect(head).toMatch(/\r\nLocation: \/dir\/\r\n/);
    expect(head).toMatch(/\r\nContent-Length: 0\r\n/);
    expect(head).not.toMatch(/Content-Type/i);
    expect(body).toBe('');
    expect((await fetchText(port, '/dir?a=1&b')).headers.location).toBe('/dir/?a=1&b');
    expect((await fetchText(port, '/di%20r')).headers.location).toBe('/di%20r/');
  });

  it('answers 404, not 500, for a UNIX socket, a FIFO and a device', async () => {
    const port = await serve({ share: `${www}$uri` });
    for (const p of ['/socket', '/fifo', '/device']) expect((await fetchText(port, p)).status).toBe(404);
    expect((await fetchText(port, '/index.html')).status).toBe(200);
  });

  it('refuses share: [] and non-string elements at config validation', async () => {
    const e = await configError({ share: [] });
    expect(e.message).toBe('The "share" array must contain at least one element.');
    expect(e.path).toBe('/routes/0/action/share');
    expect((await configError({ share: [`${www}$uri`, 1] })).message).toBe('The "share" array must contain only string values.');
  });

  it('refuses "$$uri" in a share path, as Unit does (a lone "$" is no variable)', async () => {
    const e = await configError({ share: `${www}$$uri` });
    expect(e.message).toMatch(/^Invalid variable at position \d+/);
    expect(e.path).toBe('/routes/0/action/share');
  });

  it('answers the status of the last share path when none can be served', async () => {
    const chroot = `${www}/chroot`;
    const port = await serve({ share: [`${chroot}/missing$uri`, `${www}$uri`], chroot }); // 404, then 403 (outside)
    expect((await fetchText(port, '/index.html')).status).toBe(403);
    const port2 = await serve({ share: [`${www}$uri`, `${chroot}/missing$uri`], chroot }); // 403, then 404
    expect((await fetchText(port2, '/index.html')).status).toBe(404);
  });

  it('sends a POST to a share with a fallback to the fallback, 405 without one', async () => {
    const port = await serve({ share: `${www}$uri`, fallback: { pass: 'applications/app' } });
    const r = await fetchText(port, '/index.html', { method: 'POST', body: 'x=1' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ app: 'app', method: 'POST', body: 'x=1' });
    expect(r.headers.allow).toBeUndefined();
    const port2 = await serve({ share: `${www}$uri` });
    const r2 = await fetchText(port2, '/index.html', { method: 'POST', body: 'x=1' });
    expect(r2.status).toBe(405);
  });
});

describe('chroot, symlinks and mounts as Unit', () => {
  it('answers 403 for a share path outside the chroot, textually compared', async () => {
    const port = await serve({ share: `${www}$uri`, chroot: `${www}//chroot/` });
    expect((await fetchText(port, '/chroot/inside.txt')).body).toBe('inside');
    expect((await fetchText(port, '/index.html')).status).toBe(403);
    expect((await fetchText(port, '/chrootx')).status).toBe(403);
  });

  it('resolves symlinks inside the chroot: a target outside is not found (404), a relative one inside is served', async () => {
    const port = await serve({ share: `${www}$uri`, chroot: `${www}/chroot` });
    for (const p of ['/chroot/sub/abs-link', '/chroot/sub/rel-link']) {
      const r = await fetchText(port, p);
      expect(r.status).toBe(404);
      expect(r.body).not.toContain('outside');
    }
    expect((await fetchText(port, '/chroot/sub/in-link')).body).toBe('inside');
    const free = await serve({ share: `${www}$uri` });
    expect((await fetchText(free, '/chroot/sub/abs-link')).body).toBe('outside');
  });

  const describeRoot = process.getuid!() === 0 ? describe : describe.skip;
  if (process.getuid!() !== 0) console.log('traverse_mounts bind-mount test skipped: mount --bind requires root');
  describeRoot('traverse_mounts: false across a bind mount (same filesystem)', () => {
    let mnt: string;
    beforeAll(() => {
      mnt = path.join(www, 'mnt');
      fs.mkdirSync(mnt);
      fs.mkdirSync(path.join(dir, 'mounted'));
      fs.writeFileSync(path.join(dir, 'mounted', 'index.html'), 'mounted');
      execFileSync('mount', ['--bind', path.join(dir, 'mounted'), mnt]);
    });
    afterAll(() => {
      execFileSync('umount', ['--lazy', mnt]);
    });

    it('answers 403 across the mount point when false, serves it when true', async () => {
      // Without chroot every component from / counts (Unit: openat2 RESOLVE_NO_XDEV from /), so whether /index.html
      // is served depends on where the test directory lives; the chroot case below checks that side.
      const off = await serve({ share: `${www}$uri`, traverse_mounts: false });
      expect((await fetchText(off, '/mnt/')).status).toBe(403);
      const on = await serve({ share: `${www}$uri`, traverse_mounts: true });
      expect((await fetchText(on, '/mnt/')).body).toBe('mounted');
    });

    it('with chroot too', async () => {
      const off = await serve({ share: `${www}$uri`, chroot: www, traverse_mounts: false });
      expect((await fetchText(off, '/mnt/')).status).toBe(403);
      expect((await fetchText(off, '/index.html')).body).toBe('index');
    });

    it('a relative share counts mount points below the working directory only, as openat2(AT_FDCWD) does', async () => {
      // wardend started inside a mount (a container volume as WORKDIR): Unit opens `.$uri` relative to its working
      // directory with RESOLVE_NO_XDEV, so the mount the directory itself is on is not a crossing.
      const before = process.cwd();
      process.chdir(mnt);
      try {
        const off = await serve({ share: '.$uri', traverse_mounts: false });
        expect(await fetchText(off, '/index.html')).toMatchObject({ status: 200, body: 'mounted' });
      } finally {
        process.chdir(before);
      }
    });
  });
});
