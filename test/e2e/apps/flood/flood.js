// A hostile app: it answers requests with its pid, but on GET /flood (or from the start with FLOOD_AT_START=1) it
// rings its doorbell in a tight loop without ever publishing a frame, as a buggy or malicious app might.
'use strict';
const fs = require('fs');
const path = require('path');
const { AppChannel } = require(path.resolve(__dirname, '../../../../packages/shm-transport'));

const ch = AppChannel.fromEnv();
if (ch === null) {
  console.error('flood.js runs under wardend only');
  process.exit(2);
}
const DOORBELL_FD = Number(/fds=\d+,(\d+)/.exec(process.env.WARDEN_CHANNEL)[1]);

function flood() {
  const one = Buffer.from([1]);
  for (;;) {
    try {
      fs.writeSync(DOORBELL_FD, one);
    } catch (err) {
      if (err.code === 'EAGAIN') continue;
      process.exit(3); // the router closed the channel
    }
  }
}

ch.on('request', (req) => {
  if (req.target === '/flood') {
    flood();
    return;
  }
  req.respond(200, ['content-type', 'text/plain']);
  req.end(String(process.pid));
});
ch.on('shutdown', () => process.exit(0));
ch.markReady();
if (process.env.FLOOD_AT_START === '1') setImmediate(flood);
