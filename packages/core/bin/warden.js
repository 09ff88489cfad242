#!/usr/bin/env node
'use strict';
// The warden command (control client of wardend): runs the built CLI (packages/core/dist). Build first: `npm run build`.
let cli;
try {
  cli = require('../dist/cli/warden-cli.js');
} catch (e) {
  if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes('dist/cli/warden-cli.js')) {
    process.stderr.write('warden: the CLI is not built. Run "npm run build" at the repository root first.\n');
  } else {
    process.stderr.write(`warden: cannot load the CLI: ${e && e.stack ? e.stack : e}\n`);
  }
  process.exit(1);
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`warden: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
