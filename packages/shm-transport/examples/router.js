// Router end: starts app.js with the channel at fds 3 and 4, sends two requests, asks it to shut down.
//   npm run build -w @warden/shm-transport && node packages/shm-transport/examples/router.js
const { spawn } = require('child_process');
const path = require('path');
const { RouterChannel } = require('..');

async function main() {
  const ch = RouterChannel.create();
  const child = spawn(process.execPath, [path.join(__dirname, 'app.js')], {
    stdio: ['ignore', 'inherit', 'inherit', ch.fds[0], ch.fds[1]], // fds[0] -> 3, fds[1] -> 4
    env: { ...process.env, ...ch.env() }, // WARDEN_CHANNEL=v1:fds=3,4
  });
  ch.closeChildFds();
  ch.on('close', (err) => console.log('channel closed', err ? err.message : '(clean)'));
  await ch.ready;

  const head = {
    method: 'POST',
    target: '/upper?x=1',
    httpVersion: '1.1',
    headers: ['Host', 'example.test'],
    remoteAddress: '127.0.0.1',
    remotePort: 50000,
    localAddress: '127.0.0.1',
    localPort: 8080,
    tls: false,
    contentLength: -1,
  };
  for (const body of ['hello', 'shared memory']) {
    const s = ch.request(head);
    const chunks = [];
    s.on('response', (status, headers) => console.log('status', status, headers));
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e) => console.error('stream error', e.message));
    s.writeBody(Buffer.from(body));
    s.endBody();
    await new Promise((r) => s.on('end', r));
    console.log('body', Buffer.concat(chunks).toString());
  }
  ch.shutdown();
  await new Promise((r) => child.on('exit', r));
}
main();
