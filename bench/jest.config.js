const base = require('../jest.preset');
// The bench's pure report functions (parsing, tables, chart, README section); the benchmarks themselves are not
// tests: they run with `npm run bench`.
module.exports = { ...base, displayName: 'bench', rootDir: __dirname, testMatch: ['<rootDir>/test/**/*.test.js'] };
