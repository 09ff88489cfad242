import { execFileSync } from 'child_process';
import { readFileSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { cleanup, freePort, http, isRoot, startWardend, type Wardend } from './support/wardend';

/**
 * `unix:` listeners as Unit's main process makes them (nxt_main_listening_socket, nxt_sockaddr_unix_parse): a path
 * socket is mode 0666, so any user can connect (a front proxy running as www-data, Warden's own unprivileged
 * routers proxying to it), and an abstract name (`unix:@name`) is exactly its bytes, with no trailing NUL, so
 * clients that name it (curl --abstract-unix-socket, Python, Node 22) reach it.
 */
let w: Wardend;
beforeAll(async () => {
  w = await startWardend();
});
afterAll(async () => {
  await w.stop();
  cleanup(w.dir);
});

/** The names of the abstract sockets listening now, as /proc/net/unix shows them (a NUL shows as `@`). */
function abstractNames(): string[] {
  return readFileSync('/proc/net/unix', 'latin1')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[7])
    .filter((p): p is string => p !== undefined && p.startsWith('@'));
}

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

it('a unix: path listener is mode 0666, and a proxy in Warden reaches it', async () => {
  const sock = join(w.dir, 'listener.sock');
  const port = await freePort();
  const put = await w.control('PUT', '/config', {
    listeners: { [`unix:${sock}`]: { pass: 'routes/inner' }, [`127.0.0.1:${port}`]: { pass: 'routes/outer' } },
    routes: { inner: [{ action: { return: 204 } }], outer: [{ action: { proxy: `http://unix:${sock}` } }] },
  });
  expect(put.status).toBe(200);
  expect((statSync(sock).mode & 0o777).toString(8)).toBe('666');
  // The router that proxies runs unprivileged when wardend is root: with the umask's 0755 it got EACCES (502).
  expect((await http(port, '/')).status).toBe(204);
  if (!isRoot || !hasCurl()) return;
  // Another user (a front proxy's): connect(2) needs write permission on the socket file.
  const asNobody = execFileSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', sock, 'http://localhost/'],
    { encoding: 'utf8' },
  );
  expect(asNobody).toBe('204');
});

it('a unix:@name listener is bound to exactly that name and answers a client naming it', async () => {
  const name = `warden-e2e-${process.pid}-${Date.now()}`;
  const put = await w.control('PUT', '/config', { listeners: { [`unix:@${name}`]: { pass: 'routes' } }, routes: [{ action: { return: 204 } }] });
  expect(put.status).toBe(200);
  const bound = abstractNames().filter((n) => n.startsWith(`@${name}`));
  expect(bound).toEqual([`@${name}`]); // was `@name@`: a trailing NUL no client sends
  if (!hasCurl()) return; // the name check above still holds; curl is what scripts/setup.sh installs
  const status = execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--abstract-unix-socket', name, 'http://localhost/'], {
    encoding: 'utf8',
  });
  expect(status).toBe('204');
});

it('replaces a socket file nobody serves (left by a killed server), and keeps one that is served or not a socket', async () => {
  // A config with a unix listener saved by a wardend that was killed came back empty: bind said EADDRINUSE.
  const stale = join(w.dir, 'stale.sock');
  execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`]);
  expect(statSync(stale).isSocket()).toBe(true);
  const put = await w.control('PUT', '/config', { listeners: { [`unix:${stale}`]: { pass: 'routes' } }, routes: [{ action: { return: 204 } }] });
  expect(put.status).toBe(200);
  if (hasCurl()) {
    expect(execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', stale, 'http://localhost/'], { encoding: 'utf8' })).toBe(
      '204',
    );
  }
  const file = join(w.dir, 'regular');
  writeFileSync(file, 'keep');
  const refused = await w.control('PUT', '/config/listeners', { [`unix:${file}`]: { pass: 'routes' } });
  expect(refused.status).toBe(500);
  // The path, with no port made up (it read `path:undefined`), in the listener's step.
  expect(refused.body.detail).toMatch(new RegExp(`in step "listen": listener ${file}: `));
  expect(readFileSync(file, 'utf8')).toBe('keep');
  // A socket someone serves (here wardend's own control socket) is not taken over.
  expect((await w.control('PUT', '/config/listeners', { [`unix:${w.socket}`]: { pass: 'routes' } })).status).toBe(500);
  expect((await w.control('GET', '/config/listeners')).status).toBe(200);
});
