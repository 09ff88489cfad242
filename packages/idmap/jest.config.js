const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'idmap', rootDir: __dirname };
