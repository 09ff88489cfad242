// A CommonJS app written for Unit: started as `node --require unit-http/loader app.js`, it uses plain
// require('http'), which the loader turns into unit-http. The options object makes unit-http print Unit's warning.
'use strict';
const http = require('http');
const routes = require('./routes.cjs');

const info = { loaderSubstitutesHttp: http === require('unit-http') && http === require('node:http') };
http.createServer({ keepAliveTimeout: 5000 }, routes('cjs', info)).listen(8080);
