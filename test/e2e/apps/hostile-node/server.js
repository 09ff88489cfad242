// A hostile Node app for test/e2e/hostile-isolated-app.test.ts. Serves GET / ("ok <pid>"); on start, does what
// $HOSTILE says:
//   long-line   writes 1 MiB to stdout without a newline, and keeps running (readline in wardend held such a line
//               until its newline: 900 MiB of it stopped wardend)
//   control-flood  once serving, sends messages with fds on its control socket to wardend's main, without pause,
//               for 20 s (apps send nothing there; main read them all in one go, its event loop held meanwhile)
// and on GET /chain?n=N&mark=M starts a chain of N processes, each the child of the one before (`sleep M` each), to
// outlive the app: wardend killed one generation per round, 50 rounds, and the rest stayed under the host's init;
// on GET /killproto?mark=M starts `sleep M` in a session of its own, then SIGKILLs its parent (the prototype, which
// it may kill when it runs as the prototype's host uid): the sleep stayed under the host's init.
const http = require('http');
const { readFileSync } = require('fs');
const { join } = require('path');

if (process.env.HOSTILE === 'long-line') process.stdout.write('x'.repeat(1 << 20));

if (process.env.HOSTILE === 'control-flood') {
  // The runtime takes WARDEN_CONTROL out of process.env; the process's initial environment still has it.
  const entry = readFileSync('/proc/self/environ', 'latin1')
    .split('\0')
    .find((e) => e.startsWith('WARDEN_CONTROL='));
  const fd = Number(/fd=(\d+)/.exec(entry)[1]);
  const { native } = require(join(process.env.WARDEN_ROOT, 'packages/shm-transport/dist/internal/native'));
  const payload = Buffer.from('x');
  const fds = Array(16).fill(0);
  setTimeout(() => {
    const end = Date.now() + 20000;
    while (Date.now() < end) {
      const err = native().fdSend(fd, payload, fds);
      if (err !== 0 && err !== 11) break; // gone (EPIPE once main closed its end); EAGAIN: main is behind, again
    }
  }, 300);
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/chain') {
      const n = Number(url.searchParams.get('n'));
      const mark = Number(url.searchParams.get('mark'));
      // sh runs the next link in the background, then becomes `sleep mark`: the next link is its child.
      const link = 'if [ "$1" -gt 0 ]; then sh -c "$0" "$0" "$(($1 - 1))" "$2" & fi; exec sleep "$2"';
      require('child_process').spawn('sh', ['-c', link, link, String(n), String(mark)], { stdio: 'ignore' });
    }
    if (url.pathname === '/killproto') {
      const mark = String(Number(url.searchParams.get('mark')));
      require('child_process').spawn('sleep', [mark], { stdio: 'ignore', detached: true }).unref();
      setTimeout(() => process.kill(process.ppid, 'SIGKILL'), 200);
    }
    res.end(`ok ${process.pid}`);
  })
  .listen(8080);
