/**
 * rc-e2ee: the callbacks E2EE for apps needs, registered once when Rocket.Chat's E2EE module loads
 * (`app/e2e/server/index.ts` imports this file: one hook line). Each returns what it was given.
 */
import type { IMessage, IRoom, IUser } from '@rocket.chat/core-typings';

import { onE2EEMemberLeft, onE2EEMessageSaved } from './hooks';
import { callbacks } from '../../lib/callbacks';

type LeavingUser = IUser | { user: IUser };

callbacks.add(
	'afterSaveMessage',
	(message: IMessage) => {
		void onE2EEMessageSaved(message);
		return message;
	},
	callbacks.priority.LOW,
	'rc-e2ee-apps-settle-provisional-key',
);

callbacks.add(
	'afterLeaveRoom',
	(left: LeavingUser, room: IRoom) => {
		void onE2EEMemberLeft('user' in left ? left.user : left, room);
	},
	callbacks.priority.LOW,
	'rc-e2ee-apps-member-left',
);

callbacks.add(
	'afterRemoveFromRoom',
	({ removedUser }: { removedUser: IUser }, room: IRoom) => {
		void onE2EEMemberLeft(removedUser, room);
	},
	callbacks.priority.LOW,
	'rc-e2ee-apps-member-removed',
);
