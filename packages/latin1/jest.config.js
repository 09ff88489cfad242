const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'latin1', rootDir: __dirname };
