const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'app-types', rootDir: __dirname };
