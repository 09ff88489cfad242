// Router processes (issue 18): Go and Node hello (GET 64 B) directly, through wardend with 1 router, with 2 routers,
// and through a single-process wardend of an older checkout (--baseline DIR, optional), in interleaved rounds
// (D, 1, 2, S, D, 1, 2, S, ...). Also the CPU each process spends per request (from /proc/PID/stat over one run),
// from which the scaling on more cores is estimated, and the RSS of main and of each router, idle and under load.
'use strict';
const fs = require('fs');
const path = require('path');
const { appConfig, descendants, freePort, startDirect, startWardend, statusKb, waitFor200, wrk, wrkRun } = require('../support');

const LABEL = { go: 'Go', node: 'Node' };
const TICK = 100; // USER_HZ

/** utime + stime of `pid` in seconds. */
function cpuSeconds(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/** wardend's processes by role: main, routers (by title), app processes (the rest). */
function roles(w) {
  const out = { main: w.pid, routers: [], apps: [] };
  for (const d of descendants(w.pid)) {
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d.pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmd.startsWith('wardend: router')) out.routers.push(d.pid);
    else out.apps.push(d.pid);
  }
  return out;
}

async function routers(ctx, o) {
  const { bin, dir, log } = ctx;
  const sides = [['direct'], ['1 router', ['--routers', '1']], ['2 routers', ['--routers', '2']]];
  if (o.baseline) sides.push(['single process', [], o.baseline]);
  const wardends = [];
  const direct = [];
  const servers = {};
  const result = { cases: [], cpu: [], memory: [] };
  try {
    for (const app of o.apps) {
      const d = await startDirect(app, bin);
      direct.push(d.proc);
      servers[`${app}:direct`] = d.port;
    }
    for (const [label, args, root] of sides.slice(1)) {
      const wdir = fs.mkdtempSync(path.join(dir, 'routers-'));
      fs.chmodSync(wdir, 0o755);
      const w = await startWardend(wdir, { args, root });
      wardends.push({ label, w });
      for (const app of o.apps) {
        const port = await freePort();
        await w.control('PUT', `/config/applications/${app}`, appConfig(app, bin, false));
        await w.control('PUT', `/config/listeners/127.0.0.1:${port}`, { pass: `applications/${app}` });
        await waitFor200(port);
        servers[`${app}:${label}`] = port;
      }
    }
    const idle = {};
    await new Promise((r) => setTimeout(r, 1000));
    for (const { label, w } of wardends) {
      const r = roles(w);
      idle[label] = { mainKb: statusKb(r.main, 'VmRSS'), routersKb: r.routers.map((p) => statusKb(p, 'VmRSS')) };
    }
    const url = (app, label) => `http://127.0.0.1:${servers[`${app}:${label}`]}/`;
    for (const app of o.apps) {
      const c = { name: `${LABEL[app]} GET 64 B`, connections: o.connections[0], sides: sides.map(([label]) => ({ label, rounds: [] })) };
      for (const s of c.sides) if (o.warmup) await wrk(url(app, s.label), { threads: o.threads, connections: c.connections, duration: o.warmup });
      for (let i = 0; i < o.rounds; i++) {
        for (const s of c.sides) s.rounds.push(await wrk(url(app, s.label), { threads: o.threads, connections: c.connections, duration: o.duration }));
      }
      log(`  ${c.name}: ${c.sides.map((s) => `${s.label} ${Math.round(s.rounds[s.rounds.length - 1].rps)} req/s`).join(' | ')}`);
      result.cases.push(c);
      // CPU per request by role, and RSS under load, from one more run on each wardend.
      for (const { label, w } of wardends) {
        const r = roles(w);
        const pids = [r.main, ...r.routers, ...r.apps];
        const before = pids.map(cpuSeconds);
        const run = wrkRun(url(app, label), { threads: o.threads, connections: c.connections, duration: o.duration });
        await new Promise((res) => setTimeout(res, (o.duration * 1000) / 2));
        const loaded = { mainKb: statusKb(r.main, 'VmRSS'), routersKb: r.routers.map((p) => statusKb(p, 'VmRSS')) };
        const figures = await run.result;
        const spent = pids.map((p, i) => cpuSeconds(p) - before[i]);
        const perReq = (from, to) => (spent.slice(from, to).reduce((a, b) => a + b, 0) / figures.requests) * 1e6;
        const nr = r.routers.length;
        result.cpu.push({
          app: LABEL[app],
          side: label,
          requests: figures.requests,
          rps: figures.rps,
          usPerRequest: { main: perReq(0, 1), routers: perReq(1, 1 + nr), apps: perReq(1 + nr, pids.length) },
        });
        result.memory.push({ app: LABEL[app], side: label, idle: idle[label], loaded });
        // How the shared listening socket spread the connections and requests over the routers (the overview's counts).
        if (r.routers.length > 1) {
          const text = await w.control('GET', '/ui/overview.json').catch(() => null);
          const routersSeen = text ? JSON.parse(text).routers : undefined;
          if (Array.isArray(routersSeen)) {
            (result.balance ??= []).push({
              app: LABEL[app],
              side: label,
              routers: routersSeen.map((x) => ({ index: x.index, accepted: x.connections.accepted, requests: x.requests })),
            });
          }
        }
      }
    }
    return result;
  } finally {
    direct.forEach((p) => p.kill('SIGTERM'));
    for (const { w } of wardends) await w.stop();
  }
}

module.exports = { routers };
