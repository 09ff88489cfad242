const path = require('path');
const base = require('../../jest.preset');
module.exports = {
  ...base,
  displayName: 'unit-http',
  rootDir: __dirname,
  moduleNameMapper: {
    '^@warden/app-types/http$': path.join(__dirname, '../app-types/src/runtime/http.ts'),
    ...base.moduleNameMapper,
  },
};
