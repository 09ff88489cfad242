// Bench app end: echoes each request body back as the response body.
const { AppChannel } = require('./load.js');
const ch = AppChannel.fromEnv();
ch.on('close', () => process.exit(0));
ch.on('shutdown', () => ch.close());
const HEAD = ['content-type', 'application/octet-stream'];
ch.on('request', (req) => {
  req.respond(200, HEAD);
  req.on('data', (c) => req.write(c));
  req.on('end', () => req.end());
});
ch.markReady();
