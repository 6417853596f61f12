import { ApiBridge } from './ApiBridge';
import { AppActivationBridge } from './AppActivationBridge';
import { AppBridges } from './AppBridges';
import { AppDetailChangesBridge } from './AppDetailChangesBridge';
import { CallHistoryBridge } from './CallHistoryBridge';
import { CloudWorkspaceBridge } from './CloudWorkspaceBridge';
import { CommandBridge } from './CommandBridge';
import { ContactBridge } from './ContactBridge';
import { EmailBridge } from './EmailBridge';
import { EnvironmentalVariableBridge } from './EnvironmentalVariableBridge';
import { ExperimentalBridge } from './ExperimentalBridge';
import type { IHttpBridgeRequestInfo } from './HttpBridge';
import { HttpBridge } from './HttpBridge';
import type { IInternalBridge } from './IInternalBridge';
import type { IInternalFederationBridge } from './IInternalFederationBridge';
import type { IListenerBridge } from './IListenerBridge';
import { LivechatBridge } from './LivechatBridge';
import { MessageBridge } from './MessageBridge';
import { ModerationBridge } from './ModerationBridge';
import { OutboundMessageBridge } from './OutboundMessagesBridge';
import { PersistenceBridge } from './PersistenceBridge';
import { RoleBridge } from './RoleBridge';
import { RoomBridge } from './RoomBridge';
import { SchedulerBridge } from './SchedulerBridge';
import { ServerSettingBridge } from './ServerSettingBridge';
import { UiInteractionBridge } from './UiInteractionBridge';
import { UploadBridge } from './UploadBridge';
import { UserBridge } from './UserBridge';
import { VideoConferenceBridge } from './VideoConferenceBridge';

export type { IHttpBridgeRequestInfo, IListenerBridge, IInternalBridge, IInternalFederationBridge };

export {
	CallHistoryBridge,
	CloudWorkspaceBridge,
	ContactBridge,
	EnvironmentalVariableBridge,
	HttpBridge,
	LivechatBridge,
	MessageBridge,
	PersistenceBridge,
	AppActivationBridge,
	AppDetailChangesBridge,
	CommandBridge,
	ApiBridge,
	RoomBridge,
	ServerSettingBridge,
	UserBridge,
	UploadBridge,
	EmailBridge,
	ExperimentalBridge,
	UiInteractionBridge,
	SchedulerBridge,
	AppBridges,
	VideoConferenceBridge,
	ModerationBridge,
	RoleBridge,
	OutboundMessageBridge,
};
