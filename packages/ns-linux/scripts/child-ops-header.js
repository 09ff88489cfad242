#!/usr/bin/env node
'use strict';
/**
 * Regenerates native/child-ops.h and the vocabulary table of README.md from CHILD_OPS in @warden/core (the one place
 * the child op vocabulary is written). Run after changing that table: `npm run gen:child-ops -w @warden/ns-linux`
 * (builds first). test/child-ops-header.test.ts fails while either file is stale.
 */
const fs = require('fs');
const path = require('path');
const { HEADER_PATH, renderChildOpsHeader, withChildOpsTable } = require('../dist/internal/spawner/child-ops-header');

const root = path.resolve(__dirname, '..');
fs.writeFileSync(path.join(root, HEADER_PATH), renderChildOpsHeader());
const readme = path.join(root, 'README.md');
fs.writeFileSync(readme, withChildOpsTable(fs.readFileSync(readme, 'utf8')));
process.stdout.write(`wrote ${HEADER_PATH} and README.md\n`);
