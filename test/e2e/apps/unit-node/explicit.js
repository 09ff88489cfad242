#!/usr/bin/env node
// An app that uses unit-http explicitly, without the loader: `node explicit.js`, or `"executable": "explicit.js"`
// (Unit's older documented form, started through this shebang). Its require('http') stays node's.
'use strict';
const { createServer } = require('unit-http');
const routes = require('./routes.cjs');

const info = { httpIsNode: require('http') !== require('unit-http') };
createServer(routes('explicit', info)).listen(8080);
