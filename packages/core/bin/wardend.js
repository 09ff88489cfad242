#!/usr/bin/env node
'use strict';
// The wardend command: runs the built daemon (packages/core/dist). Build first: `npm run build` at the repo root.
let cli;
try {
  cli = require('../dist/daemon/main.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('dist/daemon/main.js')) {
    process.stderr.write('wardend: the daemon is not built. Run "npm run build" at the repository root first.\n');
  } else {
    process.stderr.write(`wardend: cannot load the daemon: ${e && e.stack ? e.stack : e}\n`);
  }
  process.exit(1);
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (e) => {
    process.stderr.write(`wardend: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  },
);
