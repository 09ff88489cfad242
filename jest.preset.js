// Shared jest settings: TypeScript through ts-jest, and @warden/* resolved to each package's sources so that
// unit tests never depend on a stale build. ts-jest only transpiles (tsconfig.test.json sets isolatedModules): the
// tests are type-checked by `npm run typecheck` (tsconfig.typecheck.json, the same options and @warden/* paths).
const path = require('path');
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.test.json') }] },
  moduleNameMapper: {
    '^@warden/([a-z-]+)$': path.join(__dirname, 'packages/$1/src'),
    '^@warden/([a-z-]+)/internal$': path.join(__dirname, 'packages/$1/src/internal'),
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
};
