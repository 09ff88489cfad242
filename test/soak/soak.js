#!/usr/bin/env node
// The soak and chaos test of issue 16: mixed HTTP traffic against three apps of one wardend while its config changes
// every second and app processes and prototypes are killed with SIGKILL at random. `npm run soak` runs it for two
// minutes at 256 connections (`node test/soak/soak.js --duration 120 --connections 256`); test/e2e/soak.test.ts
// runs the same code for 20 seconds. See test/soak/README.md for what it does, how failures are attributed and
// what passes.
'use strict';
const { spawn, execFileSync } = require('child_process');
const { randomBytes } = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '../..');
const WARDEND = path.join(ROOT, 'packages/core/bin/wardend.js');
const APPS = path.join(__dirname, 'apps');
const POST_BODY = randomBytes(1 << 20);

/**
 * Default options. `duration` and `warmup` in seconds; `connections` concurrent client connections (half keep-alive,
 * half `Connection: close`); `isolated` adds the app `iso` (pid/mount/network/uts/ipc/user namespaces; needs root);
 * `killPrototypes` lets the chaos loop kill `iso`'s prototype too; `killRouters` lets it kill a router process
 * (`wardend: router N`, which main starts again; every app's requests in flight on it fail); `routers` is how many
 * router processes wardend runs (`--routers`; two, so that one can be killed while the other serves); `fdTolerance` is how many more fds wardend may
 * hold at the end than at the start; `killGraceMs` and `killNoticeMs` bound the time window of `attribute`.
 * `SOAK_DEBUG=1` in the environment prints every unexplained failure with the kills and config changes around it.
 */
const DEFAULTS = {
  duration: 120,
  connections: 256,
  warmup: 5,
  isolated: process.getuid?.() === 0,
  kills: true,
  killPrototypes: true,
  killRouters: true,
  routers: 2,
  changeEveryMs: 1000,
  requestTimeoutMs: 20000,
  killGraceMs: 3000,
  killNoticeMs: 1000,
  fdTolerance: 0,
  rssGrowthLimit: 0.2,
  settleTimeoutMs: 20000,
  log: (line) => process.stdout.write(line + '\n'),
};

/**
 * Runs one soak: starts its own wardend in a private temp dir, drives traffic and chaos for `duration` seconds,
 * stops everything and resolves with the figures and the verdict (`passed`, `problems`). Never rejects for a failed
 * soak, only for a soak that could not be set up (no go, wardend not built).
 */
async function runSoak(options = {}) {
  const o = { ...DEFAULTS, ...options };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-soak-'));
  fs.chmodSync(dir, 0o755);
  let w;
  try {
    const goBin = goBuild(path.join(APPS, 'go'), path.join(dir, 'soak-go'));
    w = await startWardend(dir, o.routers);
    const port = await freePort();
    const apps = ['go', 'node', ...(o.isolated ? ['iso'] : [])];
    const config = initialConfig(port, apps, goBin);
    await w.change('PUT', '/config', config);
    const stats = newStats();
    const chaos = { kills: [], changeLog: [], changes: { ok: 0, failed: [] }, extraListener: null };

    // Warm up every request kind, then measure the starting point with no client connection open.
    await traffic({ port, apps, connections: o.connections, until: Date.now() + o.warmup * 1000, o, stats: newStats() });
    await waitSettled(w, apps, 0, o.settleTimeoutMs);
    const start = measure(w.pid);

    o.log(`soak: ${o.duration} s, ${o.connections} connections, apps ${apps.join(', ')}, prototype kills ${o.isolated && o.killPrototypes ? 'on' : 'off'}`);
    const until = Date.now() + o.duration * 1000;
    await Promise.all([traffic({ port, apps, connections: o.connections, until, o, stats }), chaosLoop({ w, apps, until, o, chaos })]);
    for (const k of chaos.kills) {
      k.noticed = k.victims.length > 0 ? Math.max(...k.victims.map((v) => w.exitNoticed(v.hostPid) ?? k.at + o.killNoticeMs)) : k.at + o.killNoticeMs;
    }
    if (chaos.extraListener) await w.change('DELETE', `/config/listeners/${encodeURIComponent(chaos.extraListener)}`).catch(() => {});

    const settled = await waitSettled(w, apps, start.fds + o.fdTolerance, o.settleTimeoutMs);
    const end = measure(w.pid);
    const report = verdict({ o, apps, stats, chaos, start, end, settled, wardendLog: w.log() });
    report.text = format(report);
    o.log(report.text);
    return report;
  } finally {
    if (w) await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// wardend and its config

function goBuild(src, out) {
  execFileSync('go', ['build', '-o', out, '.'], {
    cwd: src,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  fs.chmodSync(out, 0o755);
  return out;
}

/** Starts wardend in `dir`; keeps the last 2000 log lines and counts its error lines. */
function startWardend(dir, routers) {
  const socket = path.join(dir, 'control.sock');
  const args = [WARDEND, '--no-daemon', '--control', `unix:${socket}`, '--statedir', path.join(dir, 'state'), '--tmpdir', dir, '--routers', String(routers)];
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WARDEN_LOG_LEVEL: 'info' },
  });
  const lines = [];
  const exits = new Map();
  let rest = '';
  let ready;
  const readyP = new Promise((ok, fail) => {
    ready = ok;
    proc.once('exit', (code, sig) => fail(new Error(`wardend exited (${code ?? sig}) before it was ready:\n${lines.join('\n')}`)));
  });
  const onData = (d) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop();
    for (const l of parts) {
      lines.push(l);
      if (lines.length > 2000) lines.shift();
      if (l.includes('wardend ready')) ready();
      if (l.includes('exited unexpectedly')) {
        try {
          const e = JSON.parse(l);
          exits.set(e.app_pid, e.time);
        } catch {
          /* not a JSON line */
        }
      }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise((r) => proc.once('exit', r));
  const w = {
    pid: proc.pid,
    log: () => lines.join('\n'),
    /** When wardend logged that the app process with this host pid exited unexpectedly (epoch ms). */
    exitNoticed: (pid) => exits.get(pid),
    control: (method, p, body) => control(socket, method, p, body),
    /** A control request that must succeed. */
    async change(method, p, body) {
      const res = await control(socket, method, p, body);
      if (res.status !== 200) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(t);
    },
  };
  const t = setTimeout(() => proc.kill('SIGKILL'), 30000);
  return readyP.then(
    () => (clearTimeout(t), w),
    (e) => (clearTimeout(t), Promise.reject(e)),
  );
}

function control(socket, method, p, body) {
  return new Promise((ok, fail) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath: socket, method, path: p, headers: data ? { 'Content-Length': Buffer.byteLength(data) } : {} }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (t += c));
      res.on('end', () => {
        let parsed = t;
        try {
          parsed = JSON.parse(t);
        } catch {
          /* keep the text */
        }
        ok({ status: res.statusCode, body: parsed });
      });
    });
    req.setTimeout(60000, () => req.destroy(new Error(`${method} ${p}: no answer within 60 s`)));
    req.on('error', fail);
    req.end(data);
  });
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on('error', fail);
  });
}

const ISOLATION = {
  namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, ipc: true },
  uidmap: [{ host: 1000, container: 0, size: 1000 }],
  gidmap: [{ host: 1000, container: 0, size: 1000 }],
};

/** One listener with routes /go/*, /node/*, /iso/* to the apps and /flip/*, which the chaos loop switches between go and node. */
function initialConfig(port, apps, goBin) {
  const env = (name) => ({ SOAK_APP: name, SOAK_GEN: '0' });
  const applications = {
    go: { type: 'external', executable: goBin, processes: 2, environment: env('go') },
    node: { type: 'node', working_directory: path.join(APPS, 'node'), script: 'app.js', processes: 2, environment: env('node') },
  };
  if (apps.includes('iso'))
    applications.iso = { type: 'external', executable: goBin, processes: 2, user: 'root', environment: env('iso'), isolation: ISOLATION };
  return {
    listeners: { [`127.0.0.1:${port}`]: { pass: 'routes' } },
    routes: [
      { match: { uri: '/flip/*' }, action: { pass: 'applications/go' } },
      ...apps.map((a) => ({ match: { uri: `/${a}/*` }, action: { pass: `applications/${a}` } })),
    ],
    applications,
    settings: { http: { max_body_size: 4 << 20 } },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// traffic

function newStats() {
  return { sent: 0, answered: 0, failed: [], byKind: {} };
}

/**
 * `connections` loops, each one connection at a time (even ones keep-alive, odd ones `Connection: close`), sending
 * until `until`: 60 % GET, 15 % 1 MiB POST (echoed and compared), 10 % slow readers (512 KiB read with a pause after
 * every chunk), 15 % GET on the /flip route. Every request has a timeout, so the loops end by themselves.
 */
async function traffic({ port, apps, connections, until, o, stats }) {
  const loops = [];
  for (let i = 0; i < connections; i++) {
    const agent = i % 2 === 0 ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    loops.push(
      (async () => {
        while (Date.now() < until) await one(port, agent, pick(apps), o, stats);
        if (agent) agent.destroy();
      })(),
    );
  }
  await Promise.all(loops);
}

function pick(apps) {
  const r = Math.random();
  const app = apps[Math.floor(Math.random() * apps.length)];
  if (r < 0.6) return { kind: 'get', app, path: `/${app}/get` };
  if (r < 0.75) return { kind: 'post', app, path: `/${app}/post` };
  if (r < 0.85) return { kind: 'slow', app, path: `/${app}/big?kb=512` };
  return { kind: 'flip', app: 'go|node', path: '/flip/get' };
}

function one(port, agent, req, o, stats) {
  const rec = { kind: req.kind, app: req.app, start: Date.now(), headersAt: 0, end: 0, status: 0, pid: '', respApp: '', why: '' };
  stats.sent++;
  stats.byKind[req.kind] = (stats.byKind[req.kind] ?? 0) + 1;
  return new Promise((done) => {
    let finished = false;
    const finish = (why) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      rec.end = Date.now();
      if (why) {
        rec.why = why;
        stats.failed.push(rec);
        if (!r.destroyed) r.destroy();
      } else stats.answered++;
      done();
    };
    const post = req.kind === 'post';
    const r = http.request(
      {
        host: '127.0.0.1',
        port,
        path: req.path,
        method: post ? 'POST' : 'GET',
        agent,
        headers: { ...(agent ? {} : { Connection: 'close' }), ...(post ? { 'Content-Length': POST_BODY.length } : {}) },
      },
      (res) => {
        rec.headersAt = Date.now();
        rec.status = res.statusCode;
        rec.pid = String(res.headers['x-soak-pid'] ?? '');
        rec.respApp = String(res.headers['x-soak-app'] ?? '');
        const chunks = [];
        let bytes = 0;
        res.on('data', (c) => {
          bytes += c.length;
          if (req.kind !== 'slow') chunks.push(c);
          else {
            res.pause();
            setTimeout(() => res.resume(), 20);
          }
        });
        res.on('end', () => {
          if (res.statusCode !== 200) return finish(`status ${res.statusCode}`);
          if (req.kind === 'post' && !POST_BODY.equals(Buffer.concat(chunks))) return finish(`echo of ${bytes} B differs`);
          if (req.kind === 'slow' && bytes !== 512 << 10) return finish(`short body (${bytes} B)`);
          if ((req.kind === 'get' || req.kind === 'flip') && !Buffer.concat(chunks).toString().startsWith('ok ')) return finish('bad body');
          finish('');
        });
        res.on('error', (e) => finish(`response ${e.code ?? e.message}`));
        res.on('close', () => finish('response closed before its end'));
      },
    );
    const timer = setTimeout(() => finish(`timeout ${o.requestTimeoutMs} ms`), o.requestTimeoutMs);
    r.on('error', (e) => finish(`${e.code ?? e.message}`));
    r.end(post ? POST_BODY : undefined);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// chaos

/**
 * Every `changeEveryMs`: one config change (in turn: switch /flip between go and node; change one app's environment,
 * which restarts it; add a second listener, or remove it again), then one SIGKILL at a random moment before the next
 * tick. Kills and changes never overlap, so that an apply is never failed by a kill of the process it is starting
 * (that would be a correct 500, not a fault).
 */
async function chaosLoop({ w, apps, until, o, chaos }) {
  let tick = 0;
  let gen = 0;
  while (Date.now() < until) {
    const tickEnd = Date.now() + o.changeEveryMs;
    const kind = ['flip', 'env', 'listener'][tick % 3];
    const change = {
      at: Date.now(),
      kind:
        kind === 'env'
          ? `restart ${apps[Math.floor(tick / 3) % apps.length]}`
          : kind === 'listener'
            ? chaos.extraListener
              ? 'listener removed'
              : 'listener added'
            : kind,
    };
    chaos.changeLog.push(change);
    try {
      if (kind === 'flip') {
        await w.change('PUT', '/config/routes/0/action/pass', `applications/${tick % 2 ? 'node' : 'go'}`);
      } else if (kind === 'env') {
        const app = apps[Math.floor(tick / 3) % apps.length];
        await w.change('PUT', `/config/applications/${app}/environment/SOAK_GEN`, String(++gen));
      } else if (chaos.extraListener) {
        await w.change('DELETE', `/config/listeners/${encodeURIComponent(chaos.extraListener)}`);
        chaos.extraListener = null;
      } else {
        const addr = `127.0.0.1:${await freePort()}`;
        await w.change('PUT', `/config/listeners/${encodeURIComponent(addr)}`, { pass: 'routes' });
        chaos.extraListener = addr;
      }
      chaos.changes.ok++;
      change.done = Date.now();
    } catch (e) {
      chaos.changes.failed.push(`${kind}: ${e.message}`);
    }
    tick++;
    const left = tickEnd - Date.now();
    if (left > 0) await sleep(Math.random() * left);
    if (o.kills && Date.now() < until) killOne(w.pid, apps, o, chaos.kills);
    const rest = tickEnd - Date.now();
    if (rest > 0) await sleep(rest);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** The processes under `root` (pid → {ppid, state, comm}), read from /proc. */
function processTree(root) {
  const all = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      all.set(Number(e), { pid: Number(e), ppid: Number(ppid), state, comm: stat.slice(stat.indexOf('(') + 1, close) });
    } catch {
      /* gone */
    }
  }
  const under = [];
  const walk = (pid) => {
    for (const p of all.values()) {
      if (p.ppid === pid) {
        under.push(p);
        walk(p.pid);
      }
    }
  };
  walk(root);
  return under;
}

function soakApp(pid) {
  try {
    const m = /(?:^|\0)SOAK_APP=([^\0]*)/.exec(fs.readFileSync(`/proc/${pid}/environ`, 'latin1'));
    return m ? m[1] : '';
  } catch {
    return '';
  }
}

/** The pid a process sees for itself (the last NSpid entry: its pid in its own pid namespace). */
function nsPid(pid) {
  try {
    const m = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? m[1].trim().split(/\s+/).pop() : String(pid);
  } catch {
    return String(pid);
  }
}

/**
 * SIGKILLs one random app process, or (the first time it can and then a quarter of the time, when allowed) the prototype of an isolated app, which
 * takes every process of that app with it (PID 1 of their pid namespace). Records who was killed and when.
 */
function killOne(wardendPid, apps, o, kills) {
  const tree = processTree(wardendPid).filter((p) => p.state !== 'Z');
  // A router process: the first time one can be killed, then a tenth of the time (never the last one standing).
  const routers = tree.filter((p) => p.ppid === wardendPid && isRouter(p.pid));
  if (o.killRouters && routers.length > 1 && (!kills.some((k) => k.kind === 'router') || Math.random() < 0.1)) {
    const r = routers[Math.floor(Math.random() * routers.length)];
    const at = Date.now();
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      return;
    }
    kills.push({ at, app: '*', kind: 'router', pid: r.pid, victims: [] });
    return;
  }
  const appProcs = tree.map((p) => ({ ...p, app: soakApp(p.pid) })).filter((p) => p.app && apps.includes(p.app));
  const protos = [];
  if (o.killPrototypes) {
    for (const p of tree) {
      const kids = appProcs.filter((c) => c.ppid === p.pid);
      if (p.comm.startsWith('warden-spawn') && kids.length > 0) protos.push({ ...p, app: kids[0].app, kids });
    }
  }
  // The first kill that can take a prototype does (so every run kills at least one), then a quarter of them.
  const useProto = protos.length > 0 && (!kills.some((k) => k.kind === 'prototype') || Math.random() < 0.25);
  const target = useProto ? protos[Math.floor(Math.random() * protos.length)] : appProcs[Math.floor(Math.random() * appProcs.length)];
  if (!target) return;
  const victims = (useProto ? target.kids : [target]).map((p) => ({ hostPid: p.pid, nsPid: nsPid(p.pid) }));
  const at = Date.now();
  try {
    process.kill(target.pid, 'SIGKILL');
  } catch {
    return;
  }
  kills.push({ at, app: target.app, kind: useProto ? 'prototype' : 'process', pid: target.pid, victims });
}

// ---------------------------------------------------------------------------------------------------------------
// measuring and judging

/** fd count and RSS of every wardend process (wardend itself and any node process under it running wardend), and zombies under it. */
function measure(wardendPid) {
  const tree = processTree(wardendPid);
  const own = [wardendPid, ...tree.filter((p) => isWardend(p.pid)).map((p) => p.pid)];
  const procs = own.map((pid) => ({ pid, fds: fs.readdirSync(`/proc/${pid}/fd`).length, ...memoryKiB(pid) }));
  return {
    procs,
    fds: procs.reduce((s, p) => s + p.fds, 0),
    rssKiB: procs.reduce((s, p) => s + p.rssKiB, 0),
    zombies: tree.filter((p) => p.state === 'Z').map((p) => `${p.pid} (${p.comm}, parent ${p.ppid})`),
  };
}

function isRouter(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('wardend: router');
  } catch {
    return false;
  }
}

function isWardend(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('wardend');
  } catch {
    return false;
  }
}

/**
 * Resident memory of `pid` in KiB: all of it, its anonymous part (heaps), and its shared memory (the channels' memfd
 * pages this process touched, also counted in the app processes that share them).
 */
function memoryKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssKiB: field('VmRSS'), anonKiB: field('RssAnon'), shmemKiB: field('RssShmem') };
}

/**
 * Waits (polling /proc and /status every 100 ms: there is no event for "the kernel closed an fd") until every app
 * has its 2 processes running, no client connection is open, no zombie is left, and wardend holds at most `maxFds`
 * fds (when `maxFds` > 0). Resolves false when that does not happen within `timeoutMs`.
 */
async function waitSettled(w, apps, maxFds, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = await w.control('GET', '/status').catch(() => undefined);
    const m = measure(w.pid);
    const ok =
      st?.status === 200 &&
      apps.every((a) => st.body.applications?.[a]?.processes?.running === 2 && st.body.applications[a].processes.starting === 0) &&
      st.body.connections.active === 0 &&
      st.body.connections.idle === 0 &&
      m.zombies.length === 0 &&
      (maxFds === 0 || m.fds <= maxFds);
    if (ok) return true;
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

/**
 * Sorts every failed request: "killed (router)" when a router process was killed while it was in flight; "killed (pid)" when its app's X-Soak-Pid header names a process killed between the
 * request's start and its failure; "killed (window)" when it got no head from an app (a 502 from wardend or a reset
 * before any head), a process of its app was killed before it failed, it started before wardend noticed that death
 * (`k.noticed`, from wardend's log; else the kill time + `noticeMs`) and failed within `graceMs` of the notice;
 * anything else is unexplained.
 */
function attribute(failed, kills, graceMs, noticeMs) {
  const out = { byPid: 0, byWindow: 0, byRouter: 0, unexplained: [] };
  for (const f of failed) {
    // In flight when a router was killed (its connection was reset, with or without a response head).
    if (kills.some((k) => k.kind === 'router' && k.at >= f.start && k.at <= f.end)) {
      out.byRouter++;
      continue;
    }
    const apps = f.respApp ? [f.respApp] : f.app.split('|');
    // A router kill (app '*') fails the requests of every app it had in flight.
    const mine = kills.filter((k) => (k.app === '*' || apps.includes(k.app)) && k.at <= f.end);
    if (f.pid && f.respApp) {
      if (mine.some((k) => k.at >= f.start && k.victims.some((v) => v.nsPid === f.pid))) {
        out.byPid++;
        continue;
      }
    } else if (
      (f.status === 0 || f.status === 502) &&
      mine.some((k) => {
        const noticed = k.noticed ?? k.at + noticeMs;
        return f.start <= noticed && f.end <= noticed + graceMs;
      })
    ) {
      out.byWindow++;
      continue;
    }
    out.unexplained.push(f);
  }
  return out;
}

function verdict({ o, apps, stats, chaos, start, end, settled, wardendLog }) {
  const a = attribute(stats.failed, chaos.kills, o.killGraceMs, o.killNoticeMs);
  if (process.env.SOAK_DEBUG) {
    for (const f of a.unexplained) {
      const rel = (k) => ({ ...k, rel: k.at - f.start, done: k.done && k.done - f.start });
      if (f.pid)
        console.log(
          wardendLog
            .split('\n')
            .filter((l) => l.includes(`"app_pid":${f.pid}`))
            .join('\n'),
        );
      console.log(
        JSON.stringify({
          f,
          kills: chaos.kills.filter((k) => Math.abs(k.at - f.end) < 5000).map(rel),
          changes: chaos.changeLog.filter((k) => Math.abs(k.at - f.end) < 5000).map(rel),
        }),
      );
    }
  }
  const problems = [];
  if (stats.answered + stats.failed.length !== stats.sent)
    problems.push(`${stats.sent - stats.answered - stats.failed.length} requests neither answered nor failed`);
  if (a.unexplained.length > 0) problems.push(`${a.unexplained.length} failures not explained by a kill`);
  if (chaos.changes.failed.length > 0) problems.push(`${chaos.changes.failed.length} config changes failed`);
  if (end.fds > start.fds + o.fdTolerance)
    problems.push(`wardend holds ${end.fds} fds, ${end.fds - start.fds} more than at the start (tolerance ${o.fdTolerance})`);
  const growth = end.rssKiB / start.rssKiB - 1;
  if (growth >= o.rssGrowthLimit) problems.push(`RSS grew ${(growth * 100).toFixed(1)} % (limit ${o.rssGrowthLimit * 100} %)`);
  if (end.zombies.length > 0) problems.push(`zombies: ${end.zombies.join(', ')}`);
  if (!settled) problems.push(`not settled ${o.settleTimeoutMs} ms after the traffic (apps not back at 2 processes, connections open, zombies or fds)`);
  const why = {};
  for (const f of a.unexplained) {
    const k = `${f.kind} ${f.app}: ${f.why}`;
    why[k] = (why[k] ?? 0) + 1;
  }
  return {
    passed: problems.length === 0,
    problems,
    options: { duration: o.duration, connections: o.connections, apps, killPrototypes: o.isolated && o.killPrototypes },
    requests: {
      sent: stats.sent,
      answered: stats.answered,
      failed: stats.failed.length,
      killedByPid: a.byPid,
      killedByWindow: a.byWindow,
      killedByRouter: a.byRouter,
      unexplained: a.unexplained.length,
      byKind: stats.byKind,
    },
    unexplainedReasons: why,
    kills: {
      processes: chaos.kills.filter((k) => k.kind === 'process').length,
      prototypes: chaos.kills.filter((k) => k.kind === 'prototype').length,
      routers: chaos.kills.filter((k) => k.kind === 'router').length,
    },
    changes: { ok: chaos.changes.ok, failed: chaos.changes.failed },
    settled,
    start,
    end,
    rssGrowth: growth,
    logErrors: wardendLog.split('\n').filter((l) => /"level":(50|60)/.test(l)).length,
  };
}

/** The report as printed by `npm run soak`. */
function format(r) {
  const mib = (k) => (k / 1024).toFixed(1);
  const procs = (m) =>
    m.procs.map((p) => `pid ${p.pid}: ${p.fds} fds, ${mib(p.rssKiB)} MiB RSS (anonymous ${mib(p.anonKiB)}, channels ${mib(p.shmemKiB)})`).join('; ');
  const q = r.requests;
  return [
    `soak ${r.passed ? 'PASSED' : 'FAILED'} (${r.options.duration} s, ${r.options.connections} connections, apps ${r.options.apps.join(', ')}, prototype kills ${r.options.killPrototypes ? 'on' : 'off'})`,
    `  requests: sent ${q.sent}, answered ${q.answered}, failed ${q.failed} (killed with their process: ${q.killedByPid + q.killedByWindow} = ${q.killedByPid} by pid header + ${q.killedByWindow} by time window; in flight on a killed router: ${q.killedByRouter}; unexplained ${q.unexplained})`,
    `  by kind: ${Object.entries(q.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `  chaos: ${r.kills.processes} app processes and ${r.kills.prototypes} prototypes killed, ${r.changes.ok} config changes applied, ${r.changes.failed.length} failed`,
    `  wardend at start: ${procs(r.start)}`,
    `  wardend at end:   ${procs(r.end)} (RSS ${r.rssGrowth >= 0 ? '+' : ''}${(r.rssGrowth * 100).toFixed(1)} %)`,
    `  zombies at end: ${r.end.zombies.length ? r.end.zombies.join(', ') : 'none'}; wardend error log lines: ${r.logErrors}`,
    ...Object.entries(r.unexplainedReasons).map(([k, n]) => `  unexplained: ${n} × ${k}`),
    ...r.changes.failed.slice(0, 5).map((c) => `  change failed: ${c}`),
    ...r.problems.map((p) => `  problem: ${p}`),
  ].join('\n');
}

module.exports = { runSoak, attribute, DEFAULTS };

if (require.main === module) {
  const arg = (name, def) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : def;
  };
  const opts = {
    duration: Number(arg('duration', DEFAULTS.duration)),
    connections: Number(arg('connections', DEFAULTS.connections)),
    routers: Number(arg('routers', DEFAULTS.routers)),
    kills: !process.argv.includes('--no-kills'),
    killPrototypes: !process.argv.includes('--no-prototype-kills'),
    isolated: DEFAULTS.isolated && !process.argv.includes('--no-isolated'),
  };
  if (!DEFAULTS.isolated) console.log('soak: not root, so the isolated app "iso" and its prototype kills are left out');
  runSoak(opts).then(
    (r) => process.exit(r.passed ? 0 : 1),
    (e) => {
      console.error(`soak: ${e.stack ?? e}`);
      process.exit(2);
    },
  );
}
