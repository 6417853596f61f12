/**
 * The host service's port shapes agree with Rocket.Chat 8.8's own document types
 * (`@rocket.chat/core-typings@8.8.1`): the Meteor adapters hand Rocket.Chat's documents to the
 * service as they are, and what the service sends is a message Rocket.Chat's send path takes.
 * Compiled by tests/host/core-typings.test.ts; a shape that drifts from Rocket.Chat's fails it.
 */
import type { IMessage, IRoom, ISubscription } from '@rocket.chat/core-typings';

import type { MessageDoc, OutgoingEncryptedMessage, RoomDoc, SubscriptionDoc } from '../../../native/dist/index';

export const subscription = (doc: ISubscription): SubscriptionDoc => doc;
export const room = (doc: IRoom): RoomDoc => doc;
export const message = (doc: IMessage): MessageDoc => doc;
export const outgoing = (doc: OutgoingEncryptedMessage): Partial<IMessage> => doc;
