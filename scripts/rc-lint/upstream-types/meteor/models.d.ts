// Lint-time shape of a Rocket.Chat module the meteor overlay imports (names and signatures only,
// the ones the overlay uses, as read in the stored Rocket.Chat files meteor-patches/8.8/README.md
// lists), so that the type-aware rules of scripts/rc-lint see types. Never shipped nor run.
import type { IMessage, IRoom, ISubscription, IUser } from '@rocket.chat/core-typings';

type Projection = Record<string, 0 | 1>;
interface IFindOptions {
	projection?: Projection;
	sort?: Record<string, 1 | -1>;
	limit?: number;
}
interface ICursor<T> {
	toArray(): Promise<T[]>;
}
interface IUpdateResult {
	modifiedCount: number;
	// mongodb's UpdateResult, as e2e.setRoomKeyID reads it (`const { matchedCount } = await Rooms…`).
	matchedCount: number;
}
type Update = Record<string, Record<string, unknown>>;

interface IBaseModel<T> {
	findOneById<P = T>(id: string, options?: IFindOptions): Promise<P | null>;
	find<P = T>(query: Record<string, unknown>, options?: IFindOptions): ICursor<P>;
	updateOne(filter: Record<string, unknown>, update: Update): Promise<IUpdateResult>;
}

export declare const Users: IBaseModel<IUser> & {
	findOneByAppId<P = IUser>(appId: string, options?: IFindOptions): Promise<P | null>;
};

export declare const Rooms: IBaseModel<IRoom> & {
	addUserIdToE2EEQueueByRoomIds(roomIds: string[], uid: string): Promise<unknown>;
	removeUsersFromE2EEQueueByRoomId(roomId: string, uids: string[]): Promise<unknown>;
};

export declare const Subscriptions: IBaseModel<ISubscription> & {
	findOneByRoomIdAndUserId(rid: string, uid: string, options?: IFindOptions): Promise<ISubscription | null>;
};

export declare const Messages: IBaseModel<IMessage>;
