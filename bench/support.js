// Helpers shared by the benchmark scripts of this folder: command line, processes, wardend, wrk, /proc readings.
'use strict';
const { spawn, execFile, execFileSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const { parseWrk, median } = require('./report');

const ROOT = path.resolve(__dirname, '..');

/** The value after `--name` on the command line, or `def`. */
function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
}

/** Whether `--name` is on the command line. */
function flag(name) {
  return process.argv.includes(`--${name}`);
}

/** Exits with an install hint when `cmd` is not on PATH. */
function need(cmd) {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'ignore' });
  } catch (e) {
    if (e.code === 'ENOENT') {
      console.error(`bench: "${cmd}" is not installed (apt-get install -y ${cmd === 'go' ? 'golang-go' : cmd})`);
      process.exit(1);
    }
  }
}

/** A TCP port that was free a moment ago. */
function freePort() {
  return new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** One control-API request; resolves with the body text of a 200, rejects otherwise. */
function control(socket, method, p, body) {
  return new Promise((ok, fail) => {
    const data = body && JSON.stringify(body);
    const req = http.request({ socketPath: socket, method, path: p }, (res) => {
      let t = '';
      res.on('data', (c) => (t += c));
      res.on('end', () => (res.statusCode === 200 ? ok(t) : fail(new Error(`${method} ${p}: ${res.statusCode} ${t}`))));
    });
    req.on('error', fail);
    req.end(data);
  });
}

/** One GET on 127.0.0.1; resolves with the status code (rejects on a socket error). */
function get(port, p = '/', agent = false) {
  return new Promise((ok, fail) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    req.on('error', fail);
  });
}

/** Resolves once a GET on `port` answers 200 (polls every 20 ms). */
async function waitFor200(port, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await get(port).catch(() => 0);
    if (status === 200) return;
    if (Date.now() > until) throw new Error(`port ${port} never answered 200 (last: ${status || 'no connection'})`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Builds the Go bench app (bench/apps/hello) into `dir`; returns the binary's path. */
function buildGoApp(dir) {
  const bin = path.join(dir, 'hello');
  execFileSync('go', ['build', '-o', bin, '.'], {
    cwd: path.join(ROOT, 'bench/apps/hello'),
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' },
    stdio: 'inherit',
  });
  return bin;
}

/** The Node bench app's script. */
const NODE_APP = path.join(ROOT, 'bench/apps/hello-node/app.js');

/** Every namespace on (uid/gid 0 inside mapped to 1000.. outside), as a Unit user would isolate an app. */
const ALL_NAMESPACES = {
  namespaces: { credential: true, pid: true, mount: true, network: true, uname: true, cgroup: true, ipc: true },
  uidmap: [{ host: 1000, container: 0, size: 1000 }],
  gidmap: [{ host: 1000, container: 0, size: 1000 }],
};

/** Application configs of the bench apps: `go` / `node`, optionally with every namespace on. */
function appConfig(kind, bin, isolated = false) {
  const base =
    kind === 'go'
      ? { type: 'external', executable: bin, processes: 1 }
      : { type: 'node', working_directory: path.dirname(NODE_APP), script: path.basename(NODE_APP), processes: 1 };
  return isolated ? { ...base, user: 'root', isolation: ALL_NAMESPACES } : base;
}

/** Starts the app serving HTTP itself on a free port (the baseline); resolves with { proc, port }. */
async function startDirect(kind, bin) {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const proc = kind === 'go' ? spawn(bin, [addr], { stdio: 'ignore' }) : spawn(process.execPath, [NODE_APP, addr], { stdio: 'ignore' });
  await waitFor200(port);
  return { proc, port };
}

/**
 * Starts wardend with its own control socket and state dir under `dir` and an empty config; resolves once the
 * socket answers, with { proc, pid, socket, control(method, path, body), stop() }. `opts.args`: extra command-line
 * options (`--routers 2`); `opts.root`: another checkout to run wardend from (a build of an older commit, to measure
 * side by side).
 */
async function startWardend(dir, opts = {}) {
  const socket = path.join(dir, 'control.sock');
  const proc = spawn(
    process.execPath,
    [
      path.join(opts.root ?? ROOT, 'packages/core/bin/wardend.js'),
      '--no-daemon',
      '--control',
      `unix:${socket}`,
      '--statedir',
      path.join(dir, 'state'),
      '--tmpdir',
      dir,
      '--log',
      path.join(dir, 'wardend.log'),
      ...(opts.args ?? []),
    ],
    { stdio: 'inherit', env: { ...process.env, WARDEN_LOG_LEVEL: 'warn' } },
  );
  const exited = new Promise((r) => proc.once('exit', r));
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`wardend exited (${proc.exitCode}); see ${dir}/wardend.log`);
    if (
      fs.existsSync(socket) &&
      (await control(socket, 'GET', '/config').then(
        () => true,
        () => false,
      ))
    )
      break;
    if (i > 400) throw new Error('wardend control socket never answered');
    await new Promise((r) => setTimeout(r, 25));
  }
  await control(socket, 'PUT', '/config', { listeners: {}, applications: {} });
  return {
    proc,
    pid: proc.pid,
    socket,
    control: (method, p, body) => control(socket, method, p, body),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

/** A private directory every user can enter (isolated apps run as other uids), removed by the caller. */
function workDir(prefix = 'warden-bench-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** The wrk script that turns every request into a POST of `bytes` bytes; returns its path. */
function postScript(dir, bytes) {
  const file = path.join(dir, `post-${bytes}.lua`);
  fs.writeFileSync(file, `wrk.method = "POST"\nwrk.body = string.rep("x", ${bytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);
  return file;
}

/**
 * Starts wrk against `url` and returns { result, stop }: `result` resolves with the parsed figures
 * ({ rps, p50, p99 (ms), requests, errors }); `stop()` ends the run early (SIGINT: wrk then prints what it measured).
 */
function wrkRun(url, { threads = 1, connections = 32, duration = 5, script, extra = [] } = {}) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '--latency', ...(script ? ['-s', script] : []), ...extra, url];
  let child;
  const result = new Promise((ok, fail) => {
    child = execFile('wrk', args, { encoding: 'utf8', maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err && err.signal !== 'SIGINT' && err.code !== 0) return fail(new Error(`wrk ${args.join(' ')}: ${err.message}\n${errOut}`));
      try {
        ok(parseWrk(out));
      } catch (e) {
        fail(new Error(`${e.message}\n${out}`));
      }
    });
  });
  return { result, stop: () => child.kill('SIGINT') };
}

/** Runs wrk to the end; resolves with its parsed figures (see wrkRun). */
const wrk = (url, opts) => wrkRun(url, opts).result;

/** A field of /proc/PID/status in kB (VmRSS, RssShmem, ...), or 0. */
function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** wardend's router processes (children of main titled `wardend: router N`). */
function routerPids(mainPid) {
  const out = [];
  for (const d of descendants(mainPid)) {
    try {
      if (d.ppid === mainPid && fs.readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').startsWith('wardend: router')) out.push(d.pid);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Proportional set size of `pid` in kB (shared pages such as the node binary's text counted once over the processes sharing them). */
function pssKb(pid) {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * A /proc/PID/status field in kB summed over wardend's main process and its routers (app processes not included);
 * `Pss` sums the proportional set sizes instead (RSS counts the pages main and the routers share once per process).
 */
function wardendKb(mainPid, field) {
  const f = field === 'Pss' ? pssKb : (pid) => statusKb(pid, field);
  return [mainPid, ...routerPids(mainPid)].reduce((sum, pid) => sum + f(pid), 0);
}

/**
 * The shared-memory channel mappings of a process (memfd "warden-channel" in /proc/PID/smaps): their count, total
 * size and resident part, in kB.
 */
function channelMappings(pid) {
  const out = { count: 0, sizeKb: 0, rssKb: 0 };
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out;
  }
  let inChannel = false;
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      inChannel = line.includes('memfd:warden-channel');
      if (inChannel) out.count++;
    } else if (inChannel) {
      const m = /^(Size|Rss):\s+(\d+) kB/.exec(line);
      if (m) out[m[1] === 'Size' ? 'sizeKb' : 'rssKb'] += Number(m[2]);
    }
  }
  return out;
}

/** Every descendant of `pid` as { pid, ppid, comm }, parents before children. */
function descendants(pid) {
  const all = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'));
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      all.push({ pid: Number(d), ppid, comm });
    } catch {
      /* gone meanwhile */
    }
  }
  const out = [];
  const walk = (p) => all.filter((x) => x.ppid === p).forEach((x) => (out.push(x), walk(x.pid)));
  walk(pid);
  return out;
}

/** Raises this process's open-file limit to `n` (soft and hard; needs root for the hard limit); returns the soft limit now. */
function raiseFdLimit(n, pid = process.pid) {
  try {
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${n}:${n}`], { stdio: 'ignore' });
  } catch {
    /* not permitted: keep what we have */
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports = {
  routerPids,
  wardendKb,
  ROOT,
  NODE_APP,
  ALL_NAMESPACES,
  arg,
  flag,
  need,
  freePort,
  control,
  get,
  waitFor200,
  buildGoApp,
  appConfig,
  startDirect,
  startWardend,
  workDir,
  postScript,
  wrk,
  wrkRun,
  statusKb,
  descendants,
  channelMappings,
  raiseFdLimit,
  sleep,
  median,
};
