// Rocket.Chat's ESLint config (@rocket.chat/eslint-config 0.8.0, the 8.8 line's: published
// 2026-08-26, ESLint 9.39 as packages/apps uses) over the code rc-e2ee adds to Rocket.Chat's
// tree: the Apps-Engine overlay and the example app. scripts/rc-lint/run runs it.
import { createRequire } from 'node:module';

import rocketchat from '@rocket.chat/eslint-config';

const require = createRequire(import.meta.url);
const prettierOptions = require('./prettier.config.cjs');

export default [
	...rocketchat,
	{
		name: 'rc-e2ee/project',
		languageOptions: {
			parserOptions: {
				projectService: false,
				project: ['./tsconfig.json'],
				tsconfigRootDir: import.meta.dirname,
			},
		},
		settings: {
			// No React here; this only keeps eslint-plugin-react from looking for it.
			'react': { version: '19.0' },
			'import/resolver': {
				typescript: { project: `${import.meta.dirname}/tsconfig.json` },
				node: true,
			},
		},
		rules: {
			// Rocket.Chat's options, whatever .prettierrc lies above the linted files.
			'prettier/prettier': ['error', prettierOptions, { usePrettierrc: false }],
		},
	},
];
