import type { IHttp, IModify, IPersistence, IRead } from '../accessors';
import type { IE2EERoomKeyReadyContext } from './IE2EEEventContext';

/**
 * Handler called when the app user holds a verified key for a room and can read it.
 * Only apps granted an `e2ee` permission receive it.
 */
export interface IPostE2EERoomKeyReady {
	checkPostE2EERoomKeyReady?(context: IE2EERoomKeyReadyContext, read: IRead, http: IHttp): Promise<boolean>;
	executePostE2EERoomKeyReady(context: IE2EERoomKeyReadyContext, read: IRead, http: IHttp, persistence: IPersistence, modify: IModify): Promise<void>;
}
