/**
 * rc-e2ee: how clients render the two system messages E2EE for apps posts in a room
 * (`server/services/e2ee-apps/rest.ts`): an admin authorized an app to read and write there, or
 * revoked it. `msg` is the app's name; the sender is the admin. Registered beside Rocket.Chat's own
 * E2EE message types (one hook line in `registrations/e2ee.ts`).
 */
import type { MessageTypesValues } from '@rocket.chat/core-typings';

import type { MessageTypes } from '../MessageTypes';

// Not among core-typings' MessageTypesValues: the server posts them with the same cast (rest.ts).
const AUTHORIZED = 'e2ee-app-authorized' as string as MessageTypesValues;
const REVOKED = 'e2ee-app-revoked' as string as MessageTypesValues;

export const registerE2EEAppMessageTypes = (instance: MessageTypes): void => {
	instance.registerType({
		id: AUTHORIZED,
		system: true,
		text: (t, message) => t('E2EE_App_Authorized_In_Room', { app: message.msg }),
	});

	instance.registerType({
		id: REVOKED,
		system: true,
		text: (t, message) => t('E2EE_App_Revoked_From_Room_Reset_Recommended', { app: message.msg }),
	});
};
