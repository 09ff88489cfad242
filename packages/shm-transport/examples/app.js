// App end: upper-cases request bodies. Started by router.js (finds its channel through WARDEN_CHANNEL).
const { AppChannel } = require('..');

const ch = AppChannel.fromEnv();
if (!ch) throw new Error('not started by a router (WARDEN_CHANNEL unset)');
ch.on('request', (req) => {
  req.respond(200, ['content-type', 'text/plain', 'x-target', req.target]);
  req.on('data', (c) => req.write(Buffer.from(c.toString('latin1').toUpperCase(), 'latin1')));
  req.on('end', () => req.end());
});
ch.on('shutdown', () => ch.close()); // nothing in flight in this example: leave at once
ch.markReady();
