// The bench runs the built package (dist/, what wardend and apps run), not the TypeScript sources: compiling the
// sources at start-up kept V8's compiler threads busy for seconds and skewed the CPU figures.
const fs = require('fs');
const path = require('path');

const DIST = path.join(__dirname, '..', 'dist');
if (!fs.existsSync(path.join(DIST, 'index.js'))) {
  process.stderr.write('bench: @warden/shm-transport is not built; run "npm run build" at the repository root first\n');
  process.exit(1);
}

module.exports = {
  ...require(path.join(DIST, 'index.js')),
  codec: require(path.join(DIST, 'internal', 'codec.js')),
  layout: require(path.join(DIST, 'internal', 'layout.js')),
};
