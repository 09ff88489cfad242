// The repository's own ESLint plugin (`warden/*` rules), loaded by eslint.config.js.
'use strict';
module.exports = {
  meta: { name: 'eslint-plugin-warden' },
  rules: { 'import-boundaries': require('./import-boundaries') },
};
