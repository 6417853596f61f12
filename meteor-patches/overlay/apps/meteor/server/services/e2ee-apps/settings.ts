/**
 * rc-e2ee: the administrator's switch for E2EE for apps, in Rocket.Chat's End-to-end encryption
 * settings group (one hook line in `server/settings/e2e.ts`), and the check the host makes before
 * every flow. Off by default. Custody is configured beside it in the environment, not here
 * (`RC_E2EE_KEK_FILE`, or `RC_E2EE_CUSTODY` and a PKCS#11 token; see `host.ts`), so an admin who
 * can edit settings can turn the feature off but never point the key store at a key of their
 * choosing.
 */
import { settings } from '../../../app/settings/server';

/** The setting's id: a boolean, off by default, usable only while `E2E_Enable` is on. */
export const E2EE_APPS_SETTING = 'E2E_Enable_Apps';

/** What the group's `this.add` takes, as the settings file calls it. */
interface ISettingsGroup {
	add(id: string, value: boolean, options: Record<string, unknown>): Promise<void>;
}

/** Adds the switch to the group it is called in (the E2E settings group). */
export async function addE2EEAppsSettings(group: ISettingsGroup): Promise<void> {
	await group.add(E2EE_APPS_SETTING, false, {
		type: 'boolean',
		public: false,
		i18nLabel: 'E2E_Enable_Apps',
		i18nDescription: 'E2E_Enable_Apps_Description',
		enableQuery: { _id: 'E2E_Enable', value: true },
	});
}

/** Whether an admin turned E2EE for apps on, with Rocket.Chat's E2EE itself on. */
export function isE2EEAppsEnabled(): boolean {
	return settings.get<boolean>('E2E_Enable') === true && settings.get<boolean>(E2EE_APPS_SETTING) === true;
}
