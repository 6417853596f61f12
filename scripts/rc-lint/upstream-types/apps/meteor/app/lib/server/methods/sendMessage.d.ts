// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
import type { IMessage } from '@rocket.chat/core-typings';

export declare function executeSendMessage(uid: string, message: Partial<IMessage> & Pick<IMessage, 'rid'>): Promise<IMessage>;
