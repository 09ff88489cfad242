const base = require('../../jest.preset');
// The repository's own lint rules (warden/import-boundaries) and the package boundaries they enforce.
module.exports = { ...base, displayName: 'lint', rootDir: __dirname };
