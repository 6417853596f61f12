// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// as read in the stored packages/message-types/src/MessageTypes.ts), so that the type-aware rules of
// scripts/rc-lint see types. Never shipped nor run. i18next's TFunction is narrowed to the call
// the registrations make.
import type { IMessage, MessageTypesValues } from '@rocket.chat/core-typings';

type TFunction = (key: string, options?: Record<string, unknown>) => string;

type MessageType = {
	readonly id: MessageTypesValues;
	readonly system: boolean;
	readonly text: (t: TFunction, message: IMessage, options?: { capitalize?: boolean; isDiscussion?: boolean }) => string;
};

export declare class MessageTypes {
	registerType(options: MessageType): void;
}
