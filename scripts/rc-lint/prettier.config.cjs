// Rocket.Chat's Prettier options: @rocket.chat/prettier-config's default (tabs, single quotes,
// trailing commas, LF) with printWidth 140, as Rocket.Chat's root .prettierrc sets it. Checked on
// the 8.8 pre-images: Prettier 3.3 (the one @rocket.chat/eslint-config 0.8.0 brings) leaves
// packages/apps' Reader, AppListenerManager, BaseRuntimeSubprocessController and base-runtime's
// mod.ts unchanged with 140 and rewraps three of them with the package's 100.
const base = require('@rocket.chat/prettier-config');

module.exports = { ...base, printWidth: 140 };
