const base = require('../jest.preset');
// End-to-end tests start real wardend processes from the built packages; run them one at a time.
module.exports = { ...base, displayName: 'e2e', rootDir: __dirname, testTimeout: 120000 };
