import { request } from 'http';
import { cleanup, freePort, http, startWardend, waitUntil, type Wardend } from './support/wardend';

/**
 * A router whose event loop never turns again (here a template literal that loops forever, an admin's typo) answered
 * nothing on any listener, and every later config change failed after 60 s, until someone killed it by hand. main
 * now kills a router that has sent nothing for 10 s (it says it is alive every second), and starts it again.
 */
let w: Wardend;
let port: number;
beforeAll(async () => {
  w = await startWardend();
  port = await freePort();
  const res = await w.control('PUT', '/config', {
    listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
    routes: [{ match: { uri: '/busy' }, action: { return: 301, location: '`${(() => { for (;;) {} })()}`' } }, { action: { return: 204 } }],
  });
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await w.stop();
  cleanup(w.dir);
});

it('kills a router that stopped answering and starts it again; requests are served again', async () => {
  expect((await http(port, '/r')).status).toBe(204);
  // The request that hangs the router: its client gets no answer (the connection goes with the router).
  const hung = new Promise<void>((resolve) => {
    const r = request({ host: '127.0.0.1', port, path: '/busy' }, () => resolve());
    r.on('error', () => resolve());
    r.end();
  });
  await w.waitForLog(/router process stopped answering/, 20000);
  await hung;
  await waitUntil(async () => (await http(port, '/r').catch(() => ({ status: 0 }))).status === 204, 'requests are served again', 15000);
  // And the config can be repaired.
  expect((await w.control('PUT', '/config/routes/0/action', { return: 200 })).status).toBe(200);
  expect((await http(port, '/busy')).status).toBe(200);
}, 45000);
