#!/usr/bin/env node
'use strict';
// warden-isolate: run a command in the namespaces of a Unit/Warden isolation object. See ../README.md.
require('../dist/cli/warden-isolate')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));
