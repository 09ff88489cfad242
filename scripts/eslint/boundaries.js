// Who may import whom (shared/DESIGN.md §2), written once: eslint.config.js turns it into the `warden/import-boundaries`
// rule for every package, and scripts/eslint/test checks that each package.json declares the same @warden
// dependencies. Keys and values are package names without the `@warden/` scope.
'use strict';

/**
 * The @warden packages each package's `src/` may import. The leaves (idmap, shm-transport, http-router) import no
 * other leaf and nothing above them; the two request-path leaves share `latin1` (Buffer's direct latin1 codec, the one
 * place that reaches into that Node internal), a package with no @warden import at all. Core imports no plugin (it loads them by name at start); plugins import core's public entry and the leaves they
 * build on. A package's tests, bins and examples may also import the package itself by name.
 */
const BOUNDARIES = {
  idmap: [],
  latin1: [],
  'shm-transport': ['latin1'],
  'http-router': ['latin1'],
  core: ['http-router', 'shm-transport'],
  'ns-linux': ['core', 'idmap'],
  'app-types': ['core', 'shm-transport'],
  'unit-http': ['app-types'],
  server: ['core', 'ns-linux', 'app-types', 'unit-http'],
};

/** Third-party plugins (examples/plugins/*) import only core's public entry, as DESIGN.md §2 asks of any plugin. */
const PLUGIN_EXAMPLES = ['core'];

module.exports = { BOUNDARIES, PLUGIN_EXAMPLES };
