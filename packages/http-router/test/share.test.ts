import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { HttpRouter } from '../src';
import { fetchText, rawRequest, startRouter } from './helpers';

let dir: string;
let www: string;
const routers: HttpRouter[] = [];

beforeAll(() => {
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'router-share-')));
  www = path.join(dir, 'www');
  fs.mkdirSync(path.join(www, 'sub'), { recursive: true });
  fs.mkdirSync(path.join(www, 'empty'));
  fs.writeFileSync(path.join(www, 'index.html'), '<h1>home</h1>');
  fs.writeFileSync(path.join(www, 'a.txt'), '0123456789');
  fs.writeFileSync(path.join(www, 'style.css'), 'body{}');
  fs.writeFileSync(path.join(www, 'data.weird'), 'w');
  fs.writeFileSync(path.join(www, 'README'), 'readme');
  fs.writeFileSync(path.join(www, 'sub', 'index.html'), 'sub home');
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'TOP SECRET');
  fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(www, 'escape.txt'));
  fs.symlinkSync(path.join(www, 'a.txt'), path.join(www, 'inside.txt'));
  fs.symlinkSync(dir, path.join(www, 'up'));
  fs.symlinkSync('../a.txt', path.join(www, 'sub', 'relative.txt'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close(100)));
});

async function serve(action: Record<string, unknown>, settings?: object) {
  const s = await startRouter({ pass: 'routes' }, { routes: [{ action }], settings });
  routers.push(s.router);
  return s.port;
}

describe('share', () => {
  it('serves a file with type, length, validators', async () => {
    const port = await serve({ share: `${www}$uri` });
    const r = await fetchText(port, '/a.txt');
    expect(r.status).toBe(200);
    expect(r.body).toBe('0123456789');
    expect(r.headers['content-type']).toBe('text/plain');
    expect(r.headers['content-length']).toBe('10');
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-a"$/);
    expect(new Date(r.headers['last-modified']!).getTime()).toBe(Math.floor(fs.statSync(path.join(www, 'a.txt')).mtimeMs / 1000) * 1000);
    expect((await fetchText(port, '/style.css')).headers['content-type']).toBe('text/css');
    expect((await fetchText(port, '/data.weird')).headers['content-type']).toBeUndefined();
  });

  it('uses settings.http.static.mime_types for extensions and exact names', async () => {
    const port = await serve({ share: `${www}$uri` }, { http: { static: { mime_types: { 'text/x-weird': ['.weird'], 'text/plain': 'README' } } } });
    expect((await fetchText(port, '/data.weird')).headers['content-type']).toBe('text/x-weird');
    expect((await fetchText(port, '/README')).headers['content-type']).toBe('text/plain');
  });

  it('serves the index for directory paths and redirects a directory without a slash', async () => {
    const port = await serve({ share: `${www}$uri` });
    expect((await fetchText(port, '/')).body).toBe('<h1>home</h1>');
    expect((await fetchText(port, '/sub/')).body).toBe('sub home');
    const r = await fetchText(port, '/sub?x=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/sub/?x=1');
    expect((await fetchText(port, '/empty/')).status).toBe(404);
    const port2 = await serve({ share: `${www}$uri`, index: 'a.txt' });
    expect((await fetchText(port2, '/')).body).toBe('0123456789');
  });

  it('tries share paths in order, then the fallback', async () => {
    const port = await serve({ share: [`${dir}/nothere$uri`, `${www}$uri`], fallback: { return: 299 } });
    expect((await fetchText(port, '/a.txt')).body).toBe('0123456789');
    expect((await fetchText(port, '/missing')).status).toBe(299);
    const port2 = await serve({ share: `${www}$uri`, fallback: { pass: 'applications/app' } });
    expect(JSON.parse((await fetchText(port2, '/missing')).body).app).toBe('app');
    const port3 = await serve({ share: `${www}$uri` });
    expect((await fetchText(port3, '/missing')).status).toBe(404);
  });

  it('restricts types (403, or the fallback)', async () => {
    const port = await serve({ share: `${www}$uri`, types: ['text/*', '!text/css'] });
    expect((await fetchText(port, '/a.txt')).status).toBe(200);
    expect((await fetchText(port, '/style.css')).status).toBe(403);
    expect((await fetchText(port, '/data.weird')).status).toBe(403);
    const port2 = await serve({ share: `${www}$uri`, types: ['image/*'], fallback: { return: 204 } });
    expect((await fetchText(port2, '/a.txt')).status).toBe(204);
  });

  it('answers conditional requests with 304', async () => {
    const port = await serve({ share: `${www}$uri` });
    const first = await fetchText(port, '/a.txt');
    const etag = first.headers.etag!;
    expect((await fetchText(port, '/a.txt', { headers: { 'If-None-Match': etag } })).status).toBe(304);
    expect((await fetchText(port, '/a.txt', { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
    expect((await fetchText(port, '/a.txt', { headers: { 'If-Modified-Since': first.headers['last-modified']! } })).status).toBe(304);
    expect((await fetchText(port, '/a.txt', { headers: { 'If-Modified-Since': 'Mon, 01 Jan 1990 00:00:00 GMT' } })).status).toBe(200);
  });

  it('serves byte ranges', async () => {
    const port = await serve({ share: `${www}$uri` });
    const r = await fetchText(port, '/a.txt', { headers: { Range: 'bytes=2-4' } });
    expect(r.status).toBe(206);
    expect(r.body).toBe('234');
    expect(r.headers['content-range']).toBe('bytes 2-4/10');
    expect((await fetchText(port, '/a.txt', { headers: { Range: 'bytes=-3' } })).body).toBe('789');
    expect((await fetchText(port, '/a.txt', { headers: { Range: 'bytes=7-' } })).body).toBe('789');
    const bad = await fetchText(port, '/a.txt', { headers: { Range: 'bytes=20-30' } });
    expect(bad.status).toBe(416);
    expect(bad.headers['content-range']).toBe('bytes */10');
    expect((await fetchText(port, '/a.txt', { headers: { Range: 'bytes=0-1,4-5' } })).status).toBe(200);
    expect((await fetchText(port, '/a.txt', { headers: { Range: 'bytes=2-4', 'If-Range': '"stale"' } })).status).toBe(200);
  });

  it('refuses a FIFO without blocking', async () => {
    const { execFileSync } = await import('child_process');
    const fifo = path.join(www, 'pipe');
    if (!fs.existsSync(fifo)) execFileSync('mkfifo', [fifo]);
    const port = await serve({ share: `${www}$uri` });
    expect((await fetchText(port, '/pipe')).status).toBe(404);
    expect((await fetchText(port, '/a.txt')).status).toBe(200);
  });

  it('answers HEAD without a body and refuses other methods with 405', async () => {
    const port = await serve({ share: `${www}$uri` });
    const h = await fetchText(port, '/a.txt', { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.headers['content-length']).toBe('10');
    expect(h.body).toBe('');
    const p = await fetchText(port, '/a.txt', { method: 'POST', body: 'x' });
    expect(p.status).toBe(405);
    expect(p.headers.allow).toBe('GET, HEAD');
  });

  describe('path traversal is refused', () => {
    const attempts = [
      'GET /../secret.txt HTTP/1.1',
      'GET /%2e%2e/secret.txt HTTP/1.1',
      'GET /%2E%2E/secret.txt HTTP/1.1',
      'GET /sub/..%2f..%2fsecret.txt HTTP/1.1',
      'GET /%2e%2e%2fsecret.txt HTTP/1.1',
      'GET /sub/%2e%2e/%2e%2e/secret.txt HTTP/1.1',
      'GET /..\\secret.txt HTTP/1.1',
      'GET /a.txt%00.html HTTP/1.1',
    ];
    it.each(attempts)('%s', async (line) => {
      const port = await serve({ share: `${www}$uri` });
      const r = await rawRequest(port, `${line}\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(r).not.toContain('TOP SECRET');
      expect(r).toMatch(/^HTTP\/1\.1 (400|403|404)/);
    });

    it('keeps a variable that smuggles .. inside the chroot (.. stops at the chroot, as openat2 RESOLVE_IN_ROOT)', async () => {
      const port = await serve({ share: `${www}/$arg_f`, chroot: www });
      expect((await fetchText(port, '/?f=a.txt')).body).toBe('0123456789');
      const r = await fetchText(port, '/?f=../secret.txt');
      expect(r.status).toBe(404); // www/secret.txt: there is none
      expect(r.body).not.toContain('TOP SECRET');
      expect((await fetchText(port, '/?f=..%2f..%2f..%2fetc%2fpasswd')).status).toBe(404);
      expect((await fetchText(port, '/?f=../a.txt')).body).toBe('0123456789'); // www/a.txt
    });

    it('resolves symlinks inside the chroot as if it were / (Unit answers 404 for a target outside)', async () => {
      const port = await serve({ share: `${www}$uri`, chroot: www });
      const r = await fetchText(port, '/escape.txt');
      expect(r.status).toBe(404);
      expect(r.body).not.toContain('TOP SECRET');
      expect((await fetchText(port, '/up/secret.txt')).status).toBe(404);
      expect((await fetchText(port, '/inside.txt')).status).toBe(404); // absolute target: www<www>/a.txt
      expect((await fetchText(port, '/sub/relative.txt')).body).toBe('0123456789');
    });

    it('refuses every symlink when follow_symlinks is false', async () => {
      const port = await serve({ share: `${www}$uri`, follow_symlinks: false });
      expect((await fetchText(port, '/inside.txt')).status).toBe(403);
      expect((await fetchText(port, '/up/secret.txt')).status).toBe(403);
      expect((await fetchText(port, '/a.txt')).status).toBe(200);
    });

    it('refuses crossing into another filesystem when traverse_mounts is false', async () => {
      if (fs.statSync('/').dev === fs.statSync('/proc').dev) return; // /proc not a separate mount here
      const port = await serve({ share: '/proc/self/$arg_f', traverse_mounts: false });
      expect((await fetchText(port, '/?f=status')).status).toBe(403);
      const port2 = await serve({ share: '/proc/self/$arg_f', traverse_mounts: true });
      expect((await fetchText(port2, '/?f=status')).status).toBe(200);
    });
  });
});
