#!/usr/bin/env node
// End-to-end benchmark: the same app served directly and through wardend (listener → router → shared memory → app),
// measured with wrk in one run; prints requests/s of both and the ratio. Two apps: the Go hello app (net/http
// directly, `external` under wardend) and the Node hello app (node:http directly, `node` type under wardend).
// Usage: node bench/run.js [--duration 10] [--connections 64] [--runs 1] [--apps go,node]
//        (needs wrk and go; run `npm run build` first)
// With --runs N, direct and wardend are measured back to back N times (both servers stay up, the idle one costs
// nothing) and every run's ratio is printed with the median: this machine is noisy, one pair proves little.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const { arg, need, freePort, control } = require('./support');

const ROOT = path.resolve(__dirname, '..');
const DURATION = Number(arg('duration', 10));
const CONNECTIONS = Number(arg('connections', 64));
const THREADS = Number(arg('threads', 2));
const RUNS = Math.max(1, Number(arg('runs', 1)));
const APPS = String(arg('apps', 'go,node')).split(',');

function waitForPort(port, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  return new Promise((ok, fail) => {
    const tryOnce = () => {
      const req = http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.resume();
        res.on('end', ok);
      });
      req.on('error', () => (Date.now() > until ? fail(new Error(`port ${port} never answered`)) : setTimeout(tryOnce, 100)));
    };
    tryOnce();
  });
}

function wrk(port) {
  const out = execFileSync('wrk', [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', `http://127.0.0.1:${port}/`], {
    encoding: 'utf8',
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const p99 = /^\s+99%\s+(\S+)/m.exec(out)?.[1];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  return { rps, p99, errors: Number(errors) };
}

async function main() {
  need('wrk');
  need('go');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
  fs.chmodSync(work, 0o755);
  const bin = path.join(work, 'hello');
  execFileSync('go', ['build', '-o', bin, '.'], {
    cwd: path.join(ROOT, 'bench/apps/hello'),
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: 'inherit',
  });
  const procs = [];
  process.on('exit', () => procs.forEach((p) => p.kill('SIGKILL')));
  try {
    const socket = path.join(work, 'control.sock');
    const wardend = spawn(
      process.execPath,
      [path.join(ROOT, 'packages/core/bin/wardend.js'), '--no-daemon', '--control', `unix:${socket}`, '--statedir', path.join(work, 'state'), '--log', path.join(work, 'wardend.log')],
      { stdio: 'inherit', env: { ...process.env, WARDEN_LOG_LEVEL: 'warn' } },
    );
    procs.push(wardend);
    for (let i = 0; i < 200 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    await control(socket, 'PUT', '/config', { listeners: {}, applications: {} });
    const nodeApp = path.join(ROOT, 'bench/apps/hello-node/app.js');
    const apps = {
      go: { title: 'hello (Go)', direct: 'direct (net/http)', argv: (addr) => [bin, addr], config: { type: 'external', executable: bin, processes: 1 } },
      node: {
        title: 'hello (Node)', direct: 'direct (node:http)', argv: (addr) => [process.execPath, nodeApp, addr],
        config: { type: 'node', working_directory: path.dirname(nodeApp), script: 'app.js', processes: 1 },
      },
    };
    for (const name of APPS) {
      const app = apps[name];
      if (!app) throw new Error(`unknown app "${name}" (go, node)`);
      // Baseline: the app serving HTTP itself.
      const directPort = await freePort();
      const [cmd, ...args] = app.argv(`127.0.0.1:${directPort}`);
      const direct = spawn(cmd, args, { stdio: 'ignore' });
      procs.push(direct);
      await waitForPort(directPort);
      // The same app through wardend.
      const port = await freePort();
      await control(socket, 'PUT', `/config/applications/${name}`, app.config);
      await control(socket, 'PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` });
      await waitForPort(port);
      wrk(directPort); // warm-up
      wrk(port); // warm-up

      const line = (label, r) => `${label.padEnd(28)} ${r.rps.toFixed(0).padStart(9)} req/s   p99 ${String(r.p99).padStart(8)}   non-2xx ${r.errors}`;
      console.log(`\n${app.title}, wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s, ${os.cpus().length} cores, ${new Date().toISOString()}`);
      const ratios = [];
      for (let run = 1; run <= RUNS; run++) {
        const base = wrk(directPort);
        const warden = wrk(port);
        const ratio = warden.rps / base.rps;
        ratios.push(ratio);
        if (RUNS > 1) console.log(`run ${run}/${RUNS}`);
        console.log(line(app.direct, base));
        console.log(line('through wardend (shm)', warden));
        console.log(`ratio wardend/direct: ${ratio.toFixed(2)}x   (target >= 0.75x)`);
      }
      if (RUNS > 1) {
        const sorted = [...ratios].sort((a, b) => a - b);
        const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
        console.log(`ratios: ${ratios.map((r) => r.toFixed(2)).join(' ')}   median ${median.toFixed(2)}x`);
      }
      direct.kill('SIGTERM');
      await control(socket, 'DELETE', `/config/listeners/127.0.0.1:${port}`);
      await control(socket, 'DELETE', `/config/applications/${name}`);
    }
  } finally {
    procs.forEach((p) => p.kill('SIGTERM'));
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
