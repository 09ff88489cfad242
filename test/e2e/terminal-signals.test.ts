import { spawn, type ChildProcess } from 'child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { ROOT, cleanup, controlRequest, freePort, http, isRoot, waitUntil, worldDir } from './support/wardend';

const WARDEND = join(ROOT, 'packages/core/bin/wardend.js');

// An app that writes down every signal it receives and its exit, one line each.
const SIGNAL_APP = `'use strict';
const fs = require('fs');
const http = require('http');
const log = (what) => fs.appendFileSync(process.env.SIGNAL_LOG, what + ' ' + process.pid + '\\n');
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(sig, () => { log(sig); if (sig !== 'SIGINT') process.exit(0); });
process.on('exit', () => log('exit'));
http.createServer((req, res) => res.end('up ' + process.pid)).listen(0);
`;

/**
 * wardend in the foreground as a shell starts it from a terminal: leader of its own process group (the terminal's
 * foreground group), so that the test can signal the whole group as Ctrl-C does.
 */
function startInGroup(dir: string): { proc: ChildProcess; socket: string; out: () => string; exited: Promise<number | null> } {
  const socket = join(dir, 'control.sock');
  const proc = spawn(process.execPath, [WARDEND, '--no-daemon', '--control', `unix:${socket}`, '--statedir', join(dir, 'state'), '--tmpdir', dir], {
    detached: true, // setsid: wardend's pid is its process group id, as a job-control shell makes it
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, socket, out: () => out, exited };
}

describe('Ctrl-C on the terminal running wardend in the foreground', () => {
  const cases: [string, Record<string, unknown> | undefined][] = [
    ['a plain app', undefined],
    ['an isolated app (pid and mount namespaces)', { namespaces: { pid: true, mount: true } }],
  ];
  it.each(cases)(
    'stops %s gracefully instead of the app getting SIGINT itself',
    async (_what, isolation) => {
      if (isolation && !isRoot) {
        console.warn('skipped: isolated apps need root (namespaces)');
        return;
      }
      const dir = worldDir('warden-sigint-');
      const logs = join(dir, 'logs');
      mkdirSync(logs);
      chmodSync(logs, 0o777); // the app runs as nobody when wardend is root
      const signalLog = join(logs, 'signals.log');
      writeFileSync(join(dir, 'app.js'), SIGNAL_APP);
      const w = startInGroup(dir);
      try {
        await waitUntil(() => existsSync(w.socket) && /wardend ready/.test(w.out()), 'wardend ready');
        const port = await freePort();
        const res = await controlRequest(w.socket, 'PUT', '/config', {
          listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/sig' } },
          applications: {
            sig: { type: 'node', working_directory: dir, script: 'app.js', environment: { SIGNAL_LOG: signalLog }, ...(isolation ? { isolation } : {}) },
          },
        });
        expect(res).toEqual({ status: 200, body: { success: 'Reconfiguration done.' } });
        expect((await http(port, '/', { headers: { Connection: 'close' } })).status).toBe(200);

        process.kill(-w.proc.pid!, 'SIGINT'); // what the terminal does on Ctrl-C: the whole foreground process group
        expect(await w.exited).toBe(0);
        expect(w.out()).toMatch(/wardend stopped/);
        const lines = readFileSync(signalLog, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(' ')[0]);
        expect(lines).not.toContain('SIGINT');
        expect(lines).toContain('exit'); // stopped by wardend (channel shutdown, SIGTERM after the grace)
      } finally {
        if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
        cleanup(dir);
      }
    },
    60000,
  );
});
