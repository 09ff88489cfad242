const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'core', rootDir: __dirname };
