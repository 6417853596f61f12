/** Jest runs the TypeScript suites in tests/ against the built addon (npm run build first). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: '<rootDir>/tests/tsconfig.json',
        // The Meteor overlay is code for Rocket.Chat's tree: scripts/rc-lint type-checks it against
        // Rocket.Chat's names; here it is only compiled, its Rocket.Chat imports mocked by tests/meteor.
        // The Apps-Engine bridges extend upstream classes this repository does not hold; the tests
        // that run them stand those in at the module boundary (tests/apps-engine/e2eeBridgeBatch).
        diagnostics: {
          exclude: ['**/meteor-patches/**', '**/apps-engine-patches/overlay/packages/apps/src/server/bridges/**'],
        },
      },
    ],
  },
  testTimeout: 120000,
};
