#!/usr/bin/env node
// The cost of isolation.seccomp (`node bench/seccomp.js --seccomp`; the suite of every other scenario is bench/run.js).
// Without --seccomp it is the original end-to-end benchmark: the same app served directly and through wardend (listener → router → shared memory → app),
// measured with wrk in one run; prints requests/s of both and the ratio. Two apps: the Go hello app (net/http
// directly, `external` under wardend) and the Node hello app (node:http directly, `node` type under wardend).
// Usage: node bench/seccomp.js [--duration 10] [--connections 64] [--runs 1] [--apps go,node] [--seccomp [--cold 15]]
//        (needs wrk and go; run `npm run build` first)
// With --runs N, direct and wardend are measured back to back N times (both servers stay up, the idle one costs
// nothing) and every run's ratio is printed with the median: this machine is noisy, one pair proves little.
// With --seccomp the baseline is the same app through wardend in a prototype without a filter (`isolation: {}`) and
// the subject runs under the default seccomp profile (`isolation: {seccomp: "default"}`); then the cold start
// (PUT of the app until "Reconfiguration done.", first process ready) of both is timed --cold N times, alternating,
// and last the filter itself: the CPU time of a C loop of getppid calls (bench/apps/syscall-loop) through
// warden-isolate without and with the default profile, --syscall-rounds N alternating rounds.
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { ROOT, NODE_APP, arg, need, freePort, control, waitFor200, workDir, buildGoApp, startWardend, median } = require('./support');
const { parseWrk } = require('./report');

const DURATION = Number(arg('duration', 10));
const CONNECTIONS = Number(arg('connections', 64));
const THREADS = Number(arg('threads', 2));
const RUNS = Math.max(1, Number(arg('runs', 1)));
const APPS = String(arg('apps', 'go,node')).split(',');
const SECCOMP = process.argv.includes('--seccomp');
const COLD = Number(arg('cold', 15));
const SYSCALL_ROUNDS = Number(arg('syscall-rounds', 21));

function wrk(port) {
  return parseWrk(
    execFileSync('wrk', [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', `http://127.0.0.1:${port}/`], {
      encoding: 'utf8',
    }),
  );
}

/**
 * CPU time (utime + stime, clock ticks) of the app processes whose command line contains `match`, with (`filtered`)
 * or without a seccomp filter (the `Seccomp:` line of /proc/PID/status): with --seccomp both variants run the same
 * binary, and this tells their processes apart.
 */
function appTicks(match, filtered) {
  let ticks = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(match)) continue;
      const mode = /^Seccomp:\s+(\d)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      if ((mode === '2') !== filtered) continue;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the process went away
    }
  }
  return ticks;
}

/** wrk on `port`, with the CPU the app processes (see appTicks) spent per request, in microseconds. */
function wrkWithCpu(port, match, filtered) {
  const before = appTicks(match, filtered);
  const r = wrk(port);
  r.cpuUs = ((appTicks(match, filtered) - before) * 1e4) / r.requests; // 100 ticks/s
  return r;
}

/** Times PUT /config/applications/X (prototype + first process ready) without and with seccomp, alternating. */
async function coldStart(socket, name, config) {
  const times = { plain: [], seccomp: [] };
  for (let i = 0; i < COLD; i++) {
    const order = i % 2 ? ['seccomp', 'plain'] : ['plain', 'seccomp'];
    for (const variant of order) {
      const isolation = variant === 'seccomp' ? { seccomp: 'default' } : {};
      const t0 = process.hrtime.bigint();
      await control(socket, 'PUT', `/config/applications/${name}-cold`, { ...config, isolation });
      times[variant].push(Number(process.hrtime.bigint() - t0) / 1e6);
      await control(socket, 'DELETE', `/config/applications/${name}-cold`);
    }
  }
  const fmt = (xs) => `median ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(' ')})`;
  console.log(`cold start ${name}, ${COLD} alternating rounds: no seccomp ${fmt(times.plain)}`);
  console.log(`cold start ${name}, ${COLD} alternating rounds: seccomp   ${fmt(times.seccomp)}`);
}

/** CPU ns per getppid call without and with the default seccomp profile, alternating rounds through warden-isolate. */
function syscallCost(work) {
  const loop = path.join(work, 'syscall-loop');
  execFileSync('cc', ['-O2', '-static', '-o', loop, path.join(ROOT, 'bench/apps/syscall-loop/loop.c')]);
  const run = (isolation) =>
    Number(
      execFileSync(
        process.execPath,
        [path.join(ROOT, 'packages/ns-linux/bin/warden-isolate.js'), '--isolation', JSON.stringify(isolation), '--', loop, '500000'],
        { encoding: 'utf8' },
      ),
    );
  const ns = { plain: [], seccomp: [] };
  for (let r = 0; r < SYSCALL_ROUNDS; r++) {
    for (const v of r % 2 ? ['seccomp', 'plain'] : ['plain', 'seccomp']) ns[v].push(run(v === 'seccomp' ? { seccomp: 'default' } : {}));
  }
  const fmt = (xs) => `median ${median(xs).toFixed(1)} ns (${xs.map((x) => x.toFixed(0)).join(' ')})`;
  console.log(`\nCPU time per getppid call, 500000 calls x ${SYSCALL_ROUNDS} alternating rounds, ${new Date().toISOString()}`);
  console.log(`no seccomp       ${fmt(ns.plain)}`);
  console.log(`seccomp default  ${fmt(ns.seccomp)}`);
  const ratios = ns.seccomp.map((x, i) => x / ns.plain[i]);
  console.log(
    `filter cost ${(median(ns.seccomp) - median(ns.plain)).toFixed(1)} ns per call (difference of medians), ` +
      `median of per-round ratios ${median(ratios).toFixed(3)}x`,
  );
}

async function main() {
  need('wrk');
  need('go');
  const work = workDir();
  const bin = buildGoApp(work);
  const procs = [];
  process.on('exit', () => procs.forEach((p) => p.kill('SIGKILL')));
  let wardend;
  try {
    wardend = await startWardend(work);
    const socket = wardend.socket;
    const nodeApp = NODE_APP;
    const apps = {
      go: {
        title: 'hello (Go)',
        match: bin,
        direct: 'direct (net/http)',
        argv: (addr) => [bin, addr],
        config: { type: 'external', executable: bin, processes: 1 },
      },
      node: {
        title: 'hello (Node)',
        match: 'app.js',
        direct: 'direct (node:http)',
        argv: (addr) => [process.execPath, nodeApp, addr],
        config: { type: 'node', working_directory: path.dirname(nodeApp), script: 'app.js', processes: 1 },
      },
    };
    for (const name of APPS) {
      const app = apps[name];
      if (!app) throw new Error(`unknown app "${name}" (go, node)`);
      const directPort = await freePort();
      let direct;
      if (SECCOMP) {
        // Baseline: the app through wardend in its prototype, without a filter.
        app.direct = 'wardend, no seccomp';
        await control(socket, 'PUT', `/config/applications/${name}-plain`, { ...app.config, isolation: {} });
        await control(socket, 'PUT', `/config/listeners/127.0.0.1:${directPort}`, { pass: `applications/${name}-plain` });
        app.config = { ...app.config, isolation: { seccomp: 'default' } };
      } else {
        // Baseline: the app serving HTTP itself.
        const [cmd, ...args] = app.argv(`127.0.0.1:${directPort}`);
        direct = spawn(cmd, args, { stdio: 'ignore' });
        procs.push(direct);
      }
      await waitFor200(directPort);
      // The same app through wardend (with --seccomp: under the default profile).
      const port = await freePort();
      await control(socket, 'PUT', `/config/applications/${name}`, app.config);
      await control(socket, 'PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${name}` });
      await waitFor200(port);
      wrk(directPort); // warm-up
      wrk(port); // warm-up

      const line = (label, r) =>
        `${label.padEnd(28)} ${r.rps.toFixed(0).padStart(9)} req/s   p99 ${`${r.p99} ms`.padStart(10)}   failed ${r.errors}` +
        (r.cpuUs === undefined ? '' : `   app CPU ${r.cpuUs.toFixed(1)} us/req`);
      console.log(`\n${app.title}, wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION}s, ${os.cpus().length} cores, ${new Date().toISOString()}`);
      const ratios = [];
      const cpuRatios = [];
      for (let run = 1; run <= RUNS; run++) {
        // With --seccomp the order alternates, so that neither side always runs on a warmer (or busier) machine.
        const flip = SECCOMP && run % 2 === 0;
        const measure = (p) => (SECCOMP ? wrkWithCpu(p, app.match, p === port) : wrk(p));
        const first = measure(flip ? port : directPort);
        const second = measure(flip ? directPort : port);
        const [base, warden] = flip ? [second, first] : [first, second];
        const ratio = warden.rps / base.rps;
        ratios.push(ratio);
        if (SECCOMP) cpuRatios.push(warden.cpuUs / base.cpuUs);
        if (RUNS > 1) console.log(`run ${run}/${RUNS}`);
        console.log(line(app.direct, base));
        console.log(line(SECCOMP ? 'wardend, seccomp default' : 'through wardend (shm)', warden));
        console.log(SECCOMP ? `ratio seccomp/no seccomp: ${ratio.toFixed(3)}x` : `ratio wardend/direct: ${ratio.toFixed(2)}x   (target >= 0.75x)`);
      }
      if (RUNS > 1) console.log(`ratios: ${ratios.map((r) => r.toFixed(2)).join(' ')}   median ${median(ratios).toFixed(3)}x`);
      if (SECCOMP)
        console.log(`app CPU per request seccomp/no seccomp: ${cpuRatios.map((r) => r.toFixed(2)).join(' ')}   median ${median(cpuRatios).toFixed(3)}x`);
      if (direct) direct.kill('SIGTERM');
      else {
        await control(socket, 'DELETE', `/config/listeners/127.0.0.1:${directPort}`);
        await control(socket, 'DELETE', `/config/applications/${name}-plain`);
      }
      await control(socket, 'DELETE', `/config/listeners/127.0.0.1:${port}`);
      await control(socket, 'DELETE', `/config/applications/${name}`);
      if (SECCOMP) await coldStart(socket, name, app.config);
    }
    if (SECCOMP) syscallCost(work);
  } finally {
    procs.forEach((p) => p.kill('SIGTERM'));
    await wardend?.stop();
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
