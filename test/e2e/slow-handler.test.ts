import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, freePort, http, startWardend, worldDir, type Wardend } from './support/wardend';

/**
 * A GET whose handler keeps a Node app's event loop busy (here 1.5 s of CPU) runs once. The app published that it had
 * read the request only after its handler returned, so the router's stall watch (300 ms) took the request for unread
 * and moved it to the other process, again and again: one such GET ran 49 times in 50 s and was never answered.
 */
let w: Wardend;
let dir: string;
let port: number;
beforeAll(async () => {
  dir = worldDir('warden-slow-handler-');
  const app = join(dir, 'app');
  mkdirSync(join(app, 'node_modules'), { recursive: true });
  symlinkSync(join(ROOT, 'packages/unit-http'), join(app, 'node_modules/unit-http'));
  writeFileSync(
    join(app, 'app.js'),
    `const { appendFileSync } = require('fs');
require('http').createServer((req, res) => {
  appendFileSync(${JSON.stringify(join(dir, 'runs'))}, req.url + '\\n');
  const until = Date.now() + 1500;
  while (Date.now() < until);
  res.end('done');
}).listen(8080);
`,
  );
  writeFileSync(join(dir, 'runs'), '', { mode: 0o666 }); // the app runs as nobody when wardend is root
  chmodSync(join(dir, 'runs'), 0o666);
  w = await startWardend([], dir);
  port = await freePort();
  const res = await w.control('PUT', '/config', {
    listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/slow' } },
    applications: {
      slow: {
        type: 'external',
        working_directory: app,
        executable: '/usr/bin/env',
        arguments: ['node', '--require', 'unit-http/loader', 'app.js'],
        processes: 2,
      },
    },
  });
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await w?.stop();
  cleanup(dir);
});

it('runs a GET whose handler blocks the event loop once, and answers it', async () => {
  const res = await http(port, '/cpu');
  expect([res.status, res.body.toString()]).toEqual([200, 'done']);
  await new Promise((r) => setTimeout(r, 500));
  expect(readFileSync(join(dir, 'runs'), 'utf8')).toBe('/cpu\n');
}, 30000);
