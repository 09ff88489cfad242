const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'ns-linux', rootDir: __dirname };
