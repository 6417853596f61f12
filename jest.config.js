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
        diagnostics: { exclude: ['**/meteor-patches/**'] },
      },
    ],
  },
  testTimeout: 120000,
};
