#!/usr/bin/env node
// Warden's benchmark suite (issue 17). Scenarios, each on its own fresh wardend:
//   throughput  the Go and Node bench apps directly vs through wardend, and all namespaces off vs on, in
//               interleaved rounds (A/B/A/B) with wrk: GET 64 B and 64 KiB at each connection count, POST 1 MiB echo
//   cold        PUT /config → first 200: Go with no namespaces, Go with all, Node (median of --samples); the Go
//               ones again as the first start of a new wardend (median of --samples / 4)
//   memory      wardend RSS idle, with 10 apps, with 10,000 idle keep-alive connections; per app: prototype, channel
//   reconfig    time to apply a 1,000-route config; failed requests during 100 reconfigurations under load
// Prints one Markdown report (machine line, throughput table, figures table), writes bench/results/<date>[-tag].json
// and .svg, and with --readme puts the report into bench/README.md.
//   routers     Go and Node hello directly, with 1 and 2 router processes and (--baseline DIR) a single-process
//               wardend, interleaved; CPU per request by process role; RSS of main and routers idle and loaded
// Usage: node bench/run.js [--only throughput,cold,memory,reconfig,ws,routers] [--baseline DIR] [--quick] [--duration 5] [--rounds 3]
//          [--threads 1] [--connections 32,256] [--apps go,node] [--samples 20] [--reconfigs 100] [--routes 1000]
//          [--idle-connections 10000] [--tag NAME] [--label TEXT] [--readme] [--no-save]
//        node bench/run.js --from bench/results/FILE.json [--readme]   (re-render a saved result)
// (needs wrk and go; run `npm run build` first; namespaces and 10,000 connections need root)
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { arg, flag, need, buildGoApp, startWardend, wardendKb, workDir } = require('./support');
const { markdownReport, svgChart, replaceLatest } = require('./report');
const { throughput } = require('./scenarios/throughput');
const { coldStart, firstStarts } = require('./scenarios/cold-start');
const { memory } = require('./scenarios/memory');
const { reconfig } = require('./scenarios/reconfig');
const { websocket } = require('./scenarios/websocket');
const { routers } = require('./scenarios/routers');

const SCENARIOS = ['throughput', 'cold', 'memory', 'reconfig', 'ws', 'routers'];
const quick = flag('quick');
const num = (name, full, short) => Number(arg(name, quick ? short : full));
const o = {
  only: String(arg('only', SCENARIOS.join(','))).split(','),
  duration: num('duration', 5, 1),
  rounds: Math.max(1, Number(arg('rounds', arg('runs', quick ? 1 : 3)))), // --runs: the old name
  warmup: num('warmup', 2, 0),
  threads: num('threads', 1, 1),
  connections: String(arg('connections', '32,256')).split(',').map(Number),
  apps: String(arg('apps', 'go,node')).split(','),
  samples: num('samples', 20, 5),
  reconfigs: num('reconfigs', 100, 100),
  applies: num('applies', 5, 3),
  routes: num('routes', 1000, 1000),
  idleConnections: num('idle-connections', 10000, 10000),
  settleMs: num('settle', 2000, 500),
  isolation: process.getuid() === 0,
  wsClients: num('ws-clients', 32, 8),
  wsWindow: num('ws-window', 16, 16),
  wsIdle: num('ws-idle', 2000, 500),
  // routers: a checkout of the single-process wardend (commit 971d3de, built) to measure beside the router processes.
  baseline: arg('baseline', undefined),
};

const version = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .split('\n')[0]
      .trim();
  } catch (e) {
    return (
      String(e.stdout || '')
        .split('\n')[0]
        .trim() || '?'
    );
  }
};

function machine() {
  return {
    cores: os.cpus().length,
    cpu: os.cpus()[0]?.model.replace(/\s+/g, ' ').trim() ?? '?',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.versions.node,
    go: version('go', ['version'])
      .replace(/^go version /, '')
      .replace(/ .*/, ''),
    wrk: version('wrk', ['-v'])
      .replace(/ \[.*/, '')
      .replace(/ Copyright.*/, ''),
    loadStart: os.loadavg(),
  };
}

/** Prints the report of `result`, writes its JSON and SVG under bench/results (unless --no-save), updates the README (--readme). */
function output(result, base) {
  const report = markdownReport(result);
  console.log(`\n${report}\n`);
  if (flag('no-save')) return;
  fs.mkdirSync(path.dirname(base), { recursive: true });
  fs.writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + '\n');
  if (result.throughput?.length) fs.writeFileSync(`${base}.svg`, svgChart(result));
  console.error(`bench: wrote ${path.relative(process.cwd(), base)}.json${result.throughput?.length ? ' and .svg' : ''}`);
  if (flag('readme')) {
    const readme = path.join(__dirname, 'README.md');
    const chart = result.throughput?.length ? `\n\n![ratios](results/${path.basename(base)}.svg)` : '';
    fs.writeFileSync(readme, replaceLatest(fs.readFileSync(readme, 'utf8'), report + chart));
    console.error('bench: updated bench/README.md');
  }
}

async function main() {
  const from = arg('from', undefined);
  if (from) {
    // Re-render a saved result (after a change to the report's format) without measuring again.
    output(JSON.parse(fs.readFileSync(from, 'utf8')), path.resolve(from).replace(/\.json$/, ''));
    return;
  }
  for (const s of o.only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}" (${SCENARIOS.join(', ')})`);
  for (const a of o.apps) if (!['go', 'node'].includes(a)) throw new Error(`unknown app "${a}" (go, node)`);
  need('wrk');
  need('go');
  if (!o.isolation) console.error('bench: not root: the all-namespaces cases are skipped');
  const dir = workDir();
  const ctx = { dir, bin: buildGoApp(dir), log: (line) => console.error(line) };
  const result = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    label: arg('label', quick ? 'quick run' : undefined),
    machine: machine(),
    options: { duration: o.duration, rounds: o.rounds, threads: o.threads, connections: o.connections, samples: o.samples },
  };
  // Each scenario on a fresh wardend, so one cannot leave state (or memory) behind for the next.
  const withWardend = async (name, fn) => {
    if (!o.only.includes(name)) return undefined;
    console.error(`bench: ${name}`);
    const wdir = fs.mkdtempSync(path.join(dir, `${name}-`));
    fs.chmodSync(wdir, 0o755);
    const w = await startWardend(wdir);
    try {
      return await fn(w);
    } finally {
      (result.peakRssKb ??= {})[name] = wardendKb(w.pid, 'VmHWM');
      await w.stop();
    }
  };
  try {
    result.throughput = await withWardend('throughput', (w) => throughput(w, ctx, o));
    result.cold = await withWardend('cold', (w) => coldStart(w, ctx, o));
    if (result.cold) result.cold.push(...(await firstStarts(ctx, o, Math.max(2, Math.round(o.samples / 4)))));
    result.memory = await withWardend('memory', (w) =>
      memory(w, ctx, { apps: 10, connections: o.idleConnections, settleMs: o.settleMs, settleMemory: !quick, isolation: o.isolation }),
    );
    result.reconfig = await withWardend('reconfig', (w) => reconfig(w, ctx, o));
    result.ws = await withWardend('ws', (w) =>
      websocket(w, ctx, { duration: o.duration, rounds: o.rounds, clients: o.wsClients, window: o.wsWindow, idle: o.wsIdle }),
    );
    if (o.only.includes('routers')) {
      console.error('bench: routers');
      result.routers = await routers(ctx, o);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  result.machine.loadEnd = os.loadavg();

  const tag = arg('tag', undefined);
  output(result, path.join(__dirname, 'results', `${result.date.slice(0, 10)}${tag ? `-${tag}` : ''}`));
  const failed =
    (result.throughput ?? []).some((c) => [...c.a.rounds, ...c.b.rounds].some((r) => r.errors)) ||
    result.reconfig?.failed > 0 ||
    result.memory?.closedMeanwhile > 0;
  if (failed) {
    console.error('bench: some requests or idle connections failed (see the report)');
    process.exitCode = 2;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
