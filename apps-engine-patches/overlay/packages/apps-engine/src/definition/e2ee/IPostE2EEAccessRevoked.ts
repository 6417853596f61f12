import type { IHttp, IModify, IPersistence, IRead } from '../accessors';
import type { IE2EEAccessRevokedContext } from './IE2EEEventContext';

/**
 * Handler called when the app loses access to an encrypted room.
 * Only apps granted an `e2ee` permission receive it.
 */
export interface IPostE2EEAccessRevoked {
	checkPostE2EEAccessRevoked?(context: IE2EEAccessRevokedContext, read: IRead, http: IHttp): Promise<boolean>;
	executePostE2EEAccessRevoked(context: IE2EEAccessRevokedContext, read: IRead, http: IHttp, persistence: IPersistence, modify: IModify): Promise<void>;
}
