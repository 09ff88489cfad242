const base = require('../../jest.preset');
module.exports = { ...base, displayName: 'shm-transport', rootDir: __dirname };
