const base = require('../jest.preset');
// End-to-end tests start real wardend processes from the built packages (`npm test` builds first).
module.exports = { ...base, displayName: 'e2e', rootDir: __dirname, testMatch: ['<rootDir>/e2e/**/*.test.ts'] };
