import { cleanup, freePort, http, startWardend, type Wardend } from './support/wardend';

/**
 * A `~regex` route pattern runs on what a client sends. With a nested quantifier (`^/(a+)+$`), a target of 40 `a`s and
 * a `!` kept V8's backtracking engine busy for hours, and the router, with every listener, waited behind it (a remote
 * denial of service; Unit's PCRE2 stops at its match limit). Routers switch such a match to V8's linear-time engine:
 * the same answer, at once (docs/security.md #14).
 */
let w: Wardend;
let port: number;
let other: number;
beforeAll(async () => {
  w = await startWardend();
  port = await freePort();
  other = await freePort();
  const res = await w.control('PUT', '/config', {
    listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' }, [`127.0.0.1:${other}`]: { pass: 'routes' } },
    routes: [
      { match: { uri: '~^/(a+)+$' }, action: { return: 208 } },
      { match: { uri: '~^/(\\w+)/(\\d+)$' }, action: { return: 209 } },
      { action: { return: 204 } },
    ],
  });
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await w.stop();
  cleanup(w.dir);
});

it('answers a target that makes a route regex backtrack exponentially, and other requests meanwhile', async () => {
  const evil = http(port, `/${'a'.repeat(40)}!`);
  // Another client, on another listener, is not held up (before the fix: not answered until the first one was).
  expect((await http(other, '/x/1')).status).toBe(209);
  expect((await evil).status).toBe(204);
  expect((await http(port, `/${'a'.repeat(40)}`)).status).toBe(208);
}, 20000);
