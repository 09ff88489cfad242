// Round trips per second and MB/s between two processes, shared-memory channel vs. unix sockets, measured in the
// same run. Each round trip sends a request with a payload to the other process and gets the payload echoed back in
// the response; K requests are kept in flight (pipelined). Usage: npm run bench -w @warden/shm-transport (after
// `npm run build`; env BENCH_SECONDS, default 2 per transport and round; BENCH_ROUNDS, default 3; BENCH_SIZES=64 runs
// only the 64 B case). Rows:
//   shm            the channel: RouterChannel.request() with a sink (as wardend's gateway uses it) and the body given
//                  to endBody(), to an AppChannel app that answers through a sink as well
//   unix (frames)  the very same messages over a unix socket: the channel's own REQUEST/DATA/RESPONSE frames, encoded
//                  and decoded with the same codec, one socket write per request and per response. This is "the same
//                  measured over a unix socket": only the transport differs.
//   unix (corked)  the same as unix (frames), but both sides cork the socket while they handle one read chunk, so the
//                  answers (server) and the next requests (client) of a chunk leave in one write(2).
//   unix (bare)    an 8-byte header (id, length) + payload and nothing else: no request head, no decoding at all.
//                  A lower bound of what any protocol over a socket costs, not the same work.
//   unix (HTTP)    node:http client and server over the socket: what a router without the channel would do.
//   shm, Go app    the channel with the Go app end (app-types/go) instead of the Node one.
const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { RouterChannel, codec, layout } = require('./load.js');
const { bareSize, corked, frameReader } = require('./framing.js');

/** Environment of the socket servers: glibc malloc tuned as the channel tunes its processes (see tuneAllocator). */
const TUNED_ENV = { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=4194304' };
const SECONDS = Number(process.env.BENCH_SECONDS || 2);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS || 3));
const WARMUP_MS = 500;
const CASES = [
  { size: 64, inflight: 64 },
  { size: 64 * 1024, inflight: 8 },
].filter((c) => !process.env.BENCH_SIZES || process.env.BENCH_SIZES.split(',').map(Number).includes(c.size));

function head(size) {
  return {
    method: 'POST',
    target: '/bench',
    httpVersion: '1.1',
    headers: ['host', 'bench', 'content-type', 'application/octet-stream'],
    remoteAddress: '127.0.0.1',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 80,
    tls: false,
    contentLength: size,
  };
}

/** CPU seconds (user + system) used so far by a child process, from /proc/<pid>/stat. */
function childCpu(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Runs `one(done)` K at a time for warmup + SECONDS; returns completed round trips per second and the CPU time
 * both processes used per round trip (µs), which is less sensitive to other load on the machine.
 */
function drive(inflight, one, pid) {
  return new Promise((resolve, reject) => {
    let measuring = false;
    let stopped = false;
    let count = 0;
    let t0 = 0;
    const start = () =>
      one((err) => {
        if (err) return reject(err);
        if (measuring) count++;
        if (!stopped) start();
      });
    for (let i = 0; i < inflight; i++) start();
    setTimeout(() => {
      measuring = true;
      t0 = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const child0 = childCpu(pid);
      setTimeout(() => {
        stopped = true;
        measuring = false;
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const own = process.cpuUsage(cpu0);
        const cpu = (own.user + own.system) / 1e6 + (childCpu(pid) - child0);
        resolve({ rate: count / secs, cpuPerRt: (cpu / count) * 1e6 });
      }, SECONDS * 1000);
    }, WARMUP_MS);
  });
}

/** Builds the Go hello example (its /echo handler is io.Copy(w, r.Body)); null when there is no Go toolchain. */
function buildGoApp() {
  const { execFileSync } = require('child_process');
  const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-go-')), 'hello');
  try {
    execFileSync('go', ['build', '-o', bin, '.'], {
      cwd: path.join(__dirname, '..', '..', 'app-types', 'go', 'examples', 'hello'),
      env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local' },
      stdio: 'pipe',
    });
    return bin;
  } catch {
    return null;
  }
}

async function benchShm(size, inflight, goBin) {
  const ch = RouterChannel.create({ ringBytes: 1 << 21, spinTurns: Number(process.env.WARDEN_SHM_SPIN || 0) });
  const argv = goBin ? [goBin] : [process.execPath, path.join(__dirname, 'shm-echo-app.js')];
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'inherit', 'inherit', ch.fds[0], ch.fds[1]],
    env: { ...process.env, ...ch.env() },
  });
  ch.closeChildFds();
  await ch.ready;
  const payload = Buffer.alloc(size, 0x61);
  const h = { ...head(size), target: '/echo' };
  // The router end as wardend's gateway uses it: one sink object per request, no EventEmitter listeners.
  class Sink {
    constructor(done) {
      this.done = done;
      this.got = 0;
    }
    onResponse() {}
    onData(c) {
      this.got += c.length;
    }
    onEnd() {
      this.done(this.got === size ? null : new Error(`short response ${this.got}`));
    }
    onDrain() {}
    onError(e) {
      this.done(e);
    }
  }
  const rate = await drive(
    inflight,
    (done) => {
      const s = ch.request(h);
      s.setSink(new Sink(done));
      s.endBody(payload); // the whole body: one DATA frame with the END flag, like the socket baselines' single write
    },
    child.pid,
  );
  const exited = new Promise((r) => child.once('exit', r));
  ch.shutdown();
  await exited;
  return rate;
}

/**
 * A unix-socket baseline: spawns `script` (an echo server on a socket path), keeps `inflight` requests built by
 * `encode(id)` going, and reads the answers with `makeReader(complete)`, which calls complete(id, err) per response.
 */
async function benchSocket(inflight, script, encode, makeReader, cork = false) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
  const sockPath = path.join(dir, 's');
  // The same malloc tuning as the channel applies to itself (RouterChannel/AppChannel, see the README), so that only
  // the transport differs: the parent (the client side) has it already, the socket server gets it through glibc's
  // tunables.
  const env = cork ? { ...TUNED_ENV, BENCH_CORK: '1' } : TUNED_ENV;
  const child = spawn(process.execPath, [path.join(__dirname, script), sockPath], { stdio: ['ignore', 'pipe', 'inherit'], env });
  await new Promise((r) => child.stdout.once('data', r));
  const sock = net.connect(sockPath);
  await new Promise((r) => sock.once('connect', r));
  const waiting = new Map();
  let nextId = 1;
  const reader = makeReader((id, err) => {
    const cb = waiting.get(id);
    waiting.delete(id);
    cb(err);
  });
  // Corked: the requests sent from the answers of one read chunk go out in one write (see unix-frames-echo-app.js).
  sock.on('data', cork ? corked(sock, reader) : reader);
  const rate = await drive(
    inflight,
    (done) => {
      const id = nextId++;
      waiting.set(id, done);
      sock.write(encode(id)); // a fresh buffer per request, as a real client would build
    },
    child.pid,
  );
  sock.destroy();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** Bare frames: an 8-byte header (id, length) + payload, no request head at all. */
function benchUnix(size, inflight) {
  const frame = Buffer.alloc(8 + size, 0x61);
  frame.writeUInt32LE(size, 4);
  return benchSocket(
    inflight,
    'unix-echo-app.js',
    (id) => {
      const f = Buffer.from(frame);
      f.writeUInt32LE(id, 0);
      return f;
    },
    (complete) => frameReader(8, bareSize, (b, off, n) => complete(b.readUInt32LE(off), n === 8 + size ? null : new Error('short'))),
  );
}

/** The channel's own frames (same codec, same request head) over a unix socket instead of the rings. */
function benchUnixFrames(size, inflight, cork = false) {
  const { decodeResponseHeaders, EncodeCache, encodeRequest, PositionCache, requestFrameBytes, writeFrameHeader } = codec;
  const { FLAG_END, FRAME_HEADER, FrameType, align8 } = layout;
  const cache = new PositionCache(); // decoded and encoded exactly as the channel's router end does
  const encoder = new EncodeCache();
  const payload = Buffer.alloc(size, 0x61);
  const h = { ...head(size), target: '/echo' };
  const rlen = requestFrameBytes(h);
  return benchSocket(
    inflight,
    'unix-frames-echo-app.js',
    (id) => {
      const f = Buffer.allocUnsafe(align8(rlen) + align8(FRAME_HEADER + size));
      encodeRequest(f, 0, rlen, id, h, encoder);
      writeFrameHeader(f, align8(rlen), FRAME_HEADER + size, FrameType.DATA, FLAG_END, id, 0);
      payload.copy(f, align8(rlen) + FRAME_HEADER);
      return f;
    },
    (complete) =>
      frameReader(
        FRAME_HEADER,
        (b, off) => align8(b.readUInt32LE(off)),
        (b, off) => {
          const len = b.readUInt32LE(off);
          const type = b[off + 4];
          if (type === FrameType.RESPONSE) decodeResponseHeaders(b, off, len, cache);
          else if (type === FrameType.DATA && b[off + 5] & FLAG_END) complete(b.readUInt32LE(off + 8), len - FRAME_HEADER === size ? null : new Error('short'));
        },
      ),
    cork,
  );
}

async function benchHttp(size, inflight) {
  const http = require('http');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-bench-'));
  const sockPath = path.join(dir, 's');
  const child = spawn(process.execPath, [path.join(__dirname, 'http-echo-app.js'), sockPath], { stdio: ['ignore', 'pipe', 'inherit'], env: TUNED_ENV });
  await new Promise((r) => child.stdout.once('data', r));
  const agent = new http.Agent({ keepAlive: true, maxSockets: inflight });
  const payload = Buffer.alloc(size, 0x61);
  const headers = { host: 'bench', 'content-type': 'application/octet-stream', 'content-length': size };
  const r = await drive(
    inflight,
    (done) => {
      const req = http.request({ socketPath: sockPath, agent, method: 'POST', path: '/bench', headers }, (res) => {
        let got = 0;
        res.on('data', (c) => (got += c.length));
        res.on('end', () => done(got === size ? null : new Error('short')));
      });
      req.on('error', done);
      req.end(payload);
    },
    child.pid,
  );
  agent.destroy();
  child.kill('SIGTERM');
  await new Promise((res) => child.once('exit', res));
  fs.rmSync(dir, { recursive: true, force: true });
  return r;
}

function fmt(n, d = 0) {
  return n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
}

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

(async () => {
  const started = Date.now();
  process.stdout.write(
    `shm-transport bench: ${os.cpus().length} CPUs, node ${process.version}, ${ROUNDS} rounds of ${SECONDS}s per transport and case, echo round trips between two processes\n`,
  );
  process.stdout.write(
    `machine load average at start: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  process.stdout.write('Medians over the rounds; ratios are the median of the ratios measured within each round (range in brackets).\n');
  process.stdout.write('payload   in-flight  transport     round trips/s   MB/s (each way)   CPU µs/round trip (both processes)   per round\n');
  const goBin = buildGoApp();
  for (const c of CASES) {
    // Rounds alternate the transports, so that a slow spell of this shared machine hits all of them alike; each
    // ratio is taken within one round.
    const transports = [
      ['shm', () => benchShm(c.size, c.inflight)],
      ['unix (frames)', () => benchUnixFrames(c.size, c.inflight)],
      ['unix (corked)', () => benchUnixFrames(c.size, c.inflight, true)],
      ['unix (bare)', () => benchUnix(c.size, c.inflight)],
      ['unix (HTTP)', () => benchHttp(c.size, c.inflight)],
      ...(goBin ? [['shm, Go app', () => benchShm(c.size, c.inflight, goBin)]] : []),
    ];
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const row = {};
      for (const [name, run] of transports) row[name] = await run();
      rounds.push(row);
    }
    for (const [name] of transports) {
      const rates = rounds.map((r) => r[name].rate);
      const rate = median(rates);
      const cpu = median(rounds.map((r) => r[name].cpuPerRt));
      process.stdout.write(
        `${String(c.size).padEnd(9)} ${String(c.inflight).padEnd(10)} ${name.padEnd(13)} ${fmt(rate).padStart(13)} ${fmt((rate * c.size) / 1e6, 1).padStart(17)} ${fmt(cpu, 1).padStart(20)}   ${' '.repeat(15)}${rates.map((x) => fmt(x / 1000)).join(' / ')}k\n`,
      );
    }
    for (const name of ['unix (frames)', 'unix (corked)', 'unix (bare)', 'unix (HTTP)']) {
      const ratios = rounds.map((r) => r['shm'].rate / r[name].rate);
      const cpus = rounds.map((r) => r[name].cpuPerRt / r['shm'].cpuPerRt);
      process.stdout.write(
        `${''.padEnd(21)}shm vs ${name}: ${fmt(median(ratios), 2)}x round trips/s [${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)}], ${fmt(median(cpus), 2)}x less CPU per round trip\n`,
      );
    }
  }
  if (!goBin) process.stdout.write('(no Go toolchain: the "shm, Go app" rows were skipped)\n');
  process.stdout.write(`done in ${fmt((Date.now() - started) / 1000, 1)}s\n`);
})().catch((e) => {
  process.stderr.write(`bench failed: ${e.stack}\n`);
  process.exit(1);
});
