import { closeSync } from 'fs';
import { request } from 'http';
import { HttpRouter, type ApplicationGateway, type ListenSpec } from '@warden/http-router';
import { FdSocket, listenSocket } from '@warden/shm-transport';

/**
 * wardend's routers share the listening sockets main bound: a router that starts again (or one more router) gets the
 * socket while the others serve it. Until its config is committed such a router may not take connections (it could
 * only answer them 503), so a connection made in between waits in the socket's queue for a router that serves.
 */
describe('a router given a socket that others may already serve', () => {
  const gateway: ApplicationGateway = { handle: (_app, _target, _req, res) => res.writeHead(500).end() };
  const config = (port: number) => ({
    listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
    routes: [{ action: { return: 204 } }],
  });
  let router: HttpRouter;
  const bound: number[] = [];

  afterEach(async () => {
    await router.close(0);
    for (const fd of bound.splice(0)) closeSync(fd);
  });

  function start(): { port: number; opened: number[] } {
    const sock = listenSocket({ host: '127.0.0.1', port: 0 });
    bound.push(sock.fd);
    const opened: number[] = [];
    router = new HttpRouter({
      gateway,
      // Main hands every router its own copy of the socket (an fd passed over a unix socket): a dup here.
      host: {
        listen: async (_l: ListenSpec) => {
          const fd = dupOf(sock.fd);
          opened.push(fd);
          return fd;
        },
        openAppend: async () => {
          throw new Error('no access log here');
        },
      },
    });
    return { port: sock.port, opened };
  }

  function get(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('does not answer a connection before the commit: it is served under the committed config', async () => {
    const { port } = start();
    const change = await router.prepare(config(port));
    let status: number | undefined;
    const answered = get(port).then((s) => (status = s));
    await new Promise((r) => setTimeout(r, 200));
    expect(status).toBeUndefined(); // still in the listen queue, not a 503 from a router that is not ready
    await change.commit();
    expect(await answered).toBe(204);
  });

  it('closes the socket it was given when the change is rolled back, without having accepted on it', async () => {
    const { port, opened } = start();
    const change = await router.prepare(config(port));
    await change.rollback();
    expect(opened).toHaveLength(1);
    expect(() => closeSync(opened[0]!)).toThrow(/EBADF/);
  });
});

/** A second fd for the same socket, as main's SCM_RIGHTS message gives a router. */
function dupOf(fd: number): number {
  const [a, b] = FdSocket.pair();
  let got = -1;
  const rx = new FdSocket(
    b,
    (_payload, fds) => (got = fds[0]!),
    () => {},
  );
  const tx = new FdSocket(
    a,
    () => {},
    () => {},
  );
  tx.send('listener', [fd]);
  rx.drain();
  tx.close();
  rx.close();
  return got;
}
