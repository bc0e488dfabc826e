/** Tests are compiled by `tsc` (which also checks the type tests) and run from dist/. */
module.exports = {
  rootDir: 'dist',
  testMatch: ['**/test/**/*.test.js'],
  testEnvironment: 'node',
  testTimeout: 60000,
};
