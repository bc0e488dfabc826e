/**
 * Tests run from the TypeScript sources, transformed by SWC (types are checked by `tsc` in `npm test`).
 * Worker threads and child processes that the compiler starts run the compiled files in dist/, which
 * `npm test` builds first.
 * @type {import('jest').Config}
 */
module.exports = {
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  testEnvironment: 'node',
  maxWorkers: 2,
  testTimeout: 120000,
  slowTestThreshold: 30,
};
