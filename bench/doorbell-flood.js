#!/usr/bin/env node
// What an app that floods its doorbell costs the other apps: the Go hello app's requests/s through wardend (wrk),
// alone (before and after) and while a second app (test/e2e/apps/flood/flood.js with FLOOD_AT_START=1) rings its
// doorbell in a tight loop without publishing frames. Prints each run, the medians and their ratio, and
// how often wardend replaced the flooder.
// Usage: node bench/doorbell-flood.js [--duration 5] [--connections 32] [--runs 3] [--settle 15]
//        (needs wrk and go; build first). --settle: seconds between adding the flooder and measuring.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const { ROOT, arg, need, freePort, control, workDir, buildGoApp, startWardend, median } = require('./support');

const DURATION = Number(arg('duration', 5));
const CONNECTIONS = Number(arg('connections', 32));
const RUNS = Math.max(1, Number(arg('runs', 3)));
const SETTLE = Number(arg('settle', 15));

const countReplaced = (file) => (fs.readFileSync(file, 'utf8').match(/broke the channel protocol/g) ?? []).length;

function wrk(port) {
  const out = execFileSync('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // fields 14 and 15, in clock ticks (100 Hz)
}

/** wrk's requests/s and wardend's CPU time per request (µs) over the same run. */
function measure(port, pid) {
  const cpu0 = cpuSeconds(pid);
  const rps = wrk(port);
  const cpu = cpuSeconds(pid) - cpu0;
  return { rps, cpuPerReq: (cpu / (rps * DURATION)) * 1e6 };
}

async function main() {
  need('wrk');
  need('go');
  const dir = workDir('warden-flood-bench-');
  const hello = buildGoApp(dir);
  const logFile = path.join(dir, 'wardend.log'); // where startWardend logs
  const wardend = await startWardend(dir);
  const socket = wardend.socket;
  try {
    const port = await freePort();
    await control(socket, 'PUT', '/config', {
      listeners: { [`127.0.0.1:${port}`]: { pass: 'applications/good' } },
      applications: { good: { type: 'external', executable: hello, processes: 1 } },
    });
    const flood = {
      type: 'external',
      executable: process.execPath,
      arguments: [path.join(ROOT, 'test/e2e/apps/flood/flood.js')],
      processes: 1,
      environment: { FLOOD_AT_START: '1' },
    };
    wrk(port); // warm-up
    // Blocks rather than alternating rounds: the flooder stays configured through its block, so that wardend's
    // replacement backoff reaches its steady state (a new pool starts with no backoff) before measuring.
    const alone = [];
    const flooded = [];
    const run = (into, label) => {
      for (let i = 0; i < RUNS; i++) {
        const m = measure(port, wardend.pid);
        into.push(m);
        console.log(`${label}: ${m.rps.toFixed(0)} req/s, wardend ${m.cpuPerReq.toFixed(1)} µs CPU/req`);
      }
    };
    run(alone, 'alone');
    await control(socket, 'PUT', '/config/applications/flood', flood);
    await new Promise((r) => setTimeout(r, SETTLE * 1000));
    const replacedBefore = countReplaced(logFile);
    const t0 = Date.now();
    run(flooded, 'with a flooder');
    const replacedDuring = countReplaced(logFile) - replacedBefore;
    const seconds = (Date.now() - t0) / 1000;
    await control(socket, 'DELETE', '/config/applications/flood');
    run(alone, 'alone');
    const rpsAlone = median(alone.map((m) => m.rps));
    const rpsFlooded = median(flooded.map((m) => m.rps));
    console.log(
      `median: alone ${rpsAlone.toFixed(0)} req/s, with a flooder ${rpsFlooded.toFixed(0)} req/s, ratio ${(rpsFlooded / rpsAlone).toFixed(3)}; ` +
        `wardend CPU/req alone ${median(alone.map((m) => m.cpuPerReq)).toFixed(1)} µs, with a flooder ${median(flooded.map((m) => m.cpuPerReq)).toFixed(1)} µs; ` +
        `flooder processes replaced while measuring: ${replacedDuring} in ${seconds.toFixed(0)} s`,
    );
  } finally {
    await wardend.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
