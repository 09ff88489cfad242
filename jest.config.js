// `npm test` runs every package's unit tests and the end-to-end tests in test/.
module.exports = {
  maxWorkers: 2,
  testTimeout: 60000,
  globalSetup: '<rootDir>/scripts/jest/setup.js',
  globalTeardown: '<rootDir>/scripts/jest/teardown.js',
  projects: [
    '<rootDir>/packages/idmap',
    '<rootDir>/packages/latin1',
    '<rootDir>/packages/shm-transport',
    '<rootDir>/packages/http-router',
    '<rootDir>/packages/core',
    '<rootDir>/packages/ns-linux',
    '<rootDir>/packages/app-types',
    '<rootDir>/packages/unit-http',
    '<rootDir>/test',
    '<rootDir>/bench',
    '<rootDir>/scripts/eslint',
  ],
};
