const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'http-router', rootDir: __dirname };
