// Bench app end: echoes each request body back as the response body. It uses the request's sink (callback slots,
// no EventEmitter listeners per request), as the router end of the bench uses RouterStream.setSink.
const { AppChannel } = require('./load.js');
const ch = AppChannel.fromEnv();
ch.on('close', () => process.exit(0));
ch.on('shutdown', () => ch.close());
const HEAD = ['content-type', 'application/octet-stream'];

class Echo {
  constructor(req) {
    this.req = req;
  }
  onData(c, last) {
    if (last)
      this.req.end(c); // the end of the body: the echo ends with it (one DATA frame with the END flag)
    else this.req.write(c);
  }
  onEnd() {
    this.req.end();
  }
  onDrain() {}
  onAbort() {}
}

ch.on('request', (req) => {
  req.respond(200, HEAD);
  req.setSink(new Echo(req));
});
ch.markReady();
