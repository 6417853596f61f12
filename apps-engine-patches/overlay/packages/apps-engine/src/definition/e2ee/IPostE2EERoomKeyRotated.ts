import type { IHttp, IModify, IPersistence, IRead } from '../accessors';
import type { IE2EERoomKeyRotatedContext } from './IE2EEEventContext';

/**
 * Handler called when a room's key is reset; drop anything cached for the old key.
 * Only apps granted an `e2ee` permission receive it.
 */
export interface IPostE2EERoomKeyRotated {
	checkPostE2EERoomKeyRotated?(context: IE2EERoomKeyRotatedContext, read: IRead, http: IHttp): Promise<boolean>;
	executePostE2EERoomKeyRotated(context: IE2EERoomKeyRotatedContext, read: IRead, http: IHttp, persistence: IPersistence, modify: IModify): Promise<void>;
}
