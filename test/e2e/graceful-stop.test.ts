// Stopping wardend with idle apps running: as Unit's main sends every process QUIT, wardend tells each app process to
// quit once its routers are gone, and the Go package and the Node runtime exit 0 at once — not at the 5-s grace's
// SIGTERM (which took a stop to ~6.5 s, and logged an alert for an isolated app's signal).
import { chmodSync, readFileSync, writeFileSync } from 'fs';
import { request } from 'http';
import { join } from 'path';
import { goBuildSource } from './support/go-source';
import { ROOT, cleanup, freePort, haveGo, http, isRoot, startWardend, waitUntil, worldDir } from './support/wardend';

const NODE_APP = `require('http').createServer((req, res) => res.end('node')).listen(8080);\n`;
const GO_APP = `package main

import (
	"log"
	"net/http"

	"warden.dev/warden"
)

func main() {
	err := warden.ListenAndServe(":8080", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("go"))
	}))
	if err != nil {
		log.Fatal(err)
	}
}
`;

const describeGo = haveGo() ? describe : describe.skip;
if (!haveGo()) console.warn('graceful-stop e2e skipped: go is not installed');

describeGo('stopping wardend (SIGTERM) with idle apps', () => {
  let dir: string;
  let goBin: string;
  beforeAll(() => {
    dir = worldDir('warden-stop-');
    writeFileSync(join(dir, 'app.js'), NODE_APP);
    goBin = goBuildSource(dir, 'go-app', GO_APP);
  }, 120000);
  afterAll(() => cleanup(dir));

  const cases: [string, Record<string, unknown> | undefined][] = [
    ['plain', undefined],
    ['isolated (pid and mount namespaces)', { namespaces: { pid: true, mount: true } }],
  ];
  it.each(cases)(
    'tells %s apps to quit: they exit 0 at once, and wardend stops in well under the grace',
    async (_what, isolation) => {
      if (isolation && !isRoot) {
        console.warn('skipped: isolated apps need root (namespaces)');
        return;
      }
      const w = await startWardend([], worldDir('warden-stop-w-'));
      try {
        const [goPort, nodePort] = [await freePort(), await freePort()];
        const iso = isolation ? { isolation } : {};
        const res = await w.control('PUT', '/config', {
          listeners: { [`127.0.0.1:${goPort}`]: { pass: 'applications/go' }, [`127.0.0.1:${nodePort}`]: { pass: 'applications/node' } },
          applications: {
            go: { type: 'external', executable: goBin, ...iso },
            node: { type: 'node', working_directory: dir, script: 'app.js', ...iso },
          },
        });
        expect(res.status).toBe(200);
        expect((await http(goPort, '/', { headers: { Connection: 'close' } })).body.toString()).toBe('go');
        expect((await http(nodePort, '/', { headers: { Connection: 'close' } })).body.toString()).toBe('node');

        const exited = new Promise<number | null>((r) => w.proc.once('exit', (code) => r(code)));
        const t0 = Date.now();
        w.proc.kill('SIGTERM');
        expect(await exited).toBe(0);
        const took = Date.now() - t0;
        // About 0.15 s on an idle 2-core VM; the grace's SIGTERM came at 5 s (and the stop took ~6.5 s).
        expect(took).toBeLessThan(3500);
        const exits = w
          .log()
          .split('\n')
          .filter((l) => /"msg":"app process exited/.test(l));
        if (isolation) expect(exits).toHaveLength(2); // the prototypes log their processes' exits
        for (const line of exits) expect(JSON.parse(line)).toMatchObject({ signal: null, code: 0 });
        expect(w.log()).not.toMatch(/"level":60/); // Unit's [alert]
      } finally {
        await w.stop();
        cleanup(w.dir);
      }
    },
    60000,
  );
});

// An app that never answers and ignores every way of being asked to quit (SHUTDOWN, the channel's close, SIGTERM):
// only SIGKILL ends it. It notes its pid when it starts.
const STUBBORN_APP = `const { AppChannelSet } = require(${JSON.stringify(join(ROOT, 'packages/shm-transport'))});
require('fs').appendFileSync(process.argv[2], process.pid + '\\n');
const set = AppChannelSet.fromEnv(process.env);
const held = [];
set.on('request', (r) => held.push(r));
set.on('shutdown', () => undefined);
set.on('close', () => undefined);
process.on('SIGTERM', () => undefined);
setInterval(() => undefined, 1000);
set.markReady();
`;

describe('stopping wardend while a restarted app still drains', () => {
  it('bounds the old processes too: one holding a request is killed, not left behind when wardend exits', async () => {
    const dir = worldDir('warden-stop-drain-');
    writeFileSync(join(dir, 'stubborn.js'), STUBBORN_APP);
    const pids = join(dir, 'pids');
    writeFileSync(pids, '');
    chmodSync(pids, 0o666); // the app runs as nobody
    const w = await startWardend([], dir);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      const port = await freePort();
      const res = await w.control('PUT', '/config', {
        listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/stubborn' } },
        applications: { stubborn: { type: 'external', executable: process.execPath, arguments: [join(dir, 'stubborn.js'), pids] } },
      });
      expect([res.status, res.body]).toEqual([200, { success: 'Reconfiguration done.' }]);
      const held = request({ host: '127.0.0.1', port, path: '/held' });
      held.on('error', () => undefined);
      held.end();
      await new Promise((r) => setTimeout(r, 500)); // the request is in the process
      expect((await w.control('GET', '/control/applications/stubborn/restart')).status).toBe(200);
      const started = () => readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number);
      await waitUntil(async () => started().length === 2, 'the new process started');
      const [old, fresh] = started();
      expect(alive(old)).toBe(true); // draining its request

      const exited = new Promise<number | null>((r) => w.proc.once('exit', (code) => r(code)));
      w.proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      // The old pool was left out of the stop: its process, which holds a request and ignores SIGTERM, outlived
      // wardend (for ever: nothing was left to kill it).
      await waitUntil(async () => !alive(old) && !alive(fresh), 'no app process outlives wardend');
    } finally {
      await w.stop();
      for (const pid of readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      cleanup(dir);
    }
  }, 60000);
});
