// Who may import whom (shared/DESIGN.md §2), written once: eslint.config.js turns it into the `warden/import-boundaries`
// rule for every package, and scripts/eslint/test checks that each package.json declares the same @warden
// dependencies. Keys and values are package names without the `@warden/` scope.
'use strict';

/**
 * The @warden packages each package's `src/` may import. The leaves (idmap, shm-transport, http-router) import none;
 * core imports no plugin (it loads them by name at start); plugins import core's public entry and the leaves they
 * build on. A package's tests, bins and examples may also import the package itself by name.
 */
const BOUNDARIES = {
  idmap: [],
  'shm-transport': [],
  'http-router': [],
  core: ['http-router', 'shm-transport'],
  'ns-linux': ['core', 'idmap'],
  'app-types': ['core', 'shm-transport'],
  'unit-http': ['app-types'],
  server: ['core', 'ns-linux', 'app-types', 'unit-http'],
};

/** Third-party plugins (examples/plugins/*) import only core's public entry, as DESIGN.md §2 asks of any plugin. */
const PLUGIN_EXAMPLES = ['core'];

module.exports = { BOUNDARIES, PLUGIN_EXAMPLES };
