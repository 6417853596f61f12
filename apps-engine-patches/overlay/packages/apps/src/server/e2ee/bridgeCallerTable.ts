/**
 * Which argument of each bridge method names the calling app: the table behind the bridge caller
 * rule (`bridgeCaller.ts`). Data only, no imports.
 *
 * Why a table: the runtime's `bridges:` channel reaches any `do*` method of any bridge, and the
 * app id is an ordinary positional argument whose place differs by method. It is usually last,
 * but not always: `UserBridge.doCreate(data, appId, options?)` and
 * `LivechatBridge.doCreateRoom(visitor, agent, appId, extraParams?)` have optional arguments
 * after it, `do_fetchLivechatRoomMessages(appId, roomId)` and `doDeleteUsersCreatedByApp(appId,
 * type)` take it first, and `HttpBridge.doCall(info)` carries it as `info.appId`. Nothing at run
 * time says where it is (compiled parameter names are not a contract), so it is written down here
 * from upstream's bridge sources, and `tests/apps-engine/bridgeCallerTable.test.ts` checks the
 * table against the recorded pre-images of the bridges (and, given a Rocket.Chat checkout,
 * against every bridge file in it).
 *
 * Each method is listed with its parameters as upstream declares them:
 * - `appId`        the calling app (upstream's name for it in every bridge);
 * - `appId?`       the calling app, optional in the signature (the sandbox may leave it out);
 * - `<name>.appId` the calling app, carried as the `appId` field of that object argument;
 * - `<name>?`      an optional argument (trailing ones may be left out);
 * - `<name>`       any other argument.
 * A bridge or method that is not listed cannot be called from an app's runtime at all: a new
 * upstream method stays refused until someone writes down where its app id is.
 *
 * Sources: Rocket.Chat's `packages/apps/src/server/bridges/*.ts` (and `packages/apps-engine/src/
 * server/bridges/` before the engine server moved), read from stored copies of the 8.8 era and
 * the develop versions after it. Where versions differ in methods the table holds the union; none
 * of the versions read moves an app id. The E2EE bridge is ours (`bridges/E2EEBridge.ts`).
 */

/** The name the runtime uses for the E2EE bridge on the `bridges:` channel (`AppBridges.getE2EEBridge`). */
export const E2EE_BRIDGE_NAME = 'getE2EEBridge';

/**
 * Bridges whose calls must be exactly as our own accessors would send them: the exact number of
 * arguments, the `'APP_ID'` placeholder at the app-id index and nowhere else.
 */
export const STRICT_BRIDGES: ReadonlySet<string> = new Set([E2EE_BRIDGE_NAME]);

export type BridgeSignature = ReadonlyArray<string>;

export const BRIDGE_METHODS: Readonly<Record<string, Readonly<Record<string, BridgeSignature>>>> = {
	[E2EE_BRIDGE_NAME]: {
		doIsAuthorized: ['roomId', 'appId'],
		doGetEncryptedRoomKey: ['roomId', 'kid', 'appId'],
		doGetKeyHistory: ['roomId', 'appId'],
		doDecryptMessage: ['message', 'appId'],
		doDecryptMessages: ['roomId', 'messages', 'appId'],
		doSendEncryptedMessage: ['roomId', 'payload', 'options', 'appId'],
		doEncryptContent: ['roomId', 'payload', 'appId'],
	},
	getApiBridge: {
		doRegisterApi: ['api', 'appId'],
		doUnregisterApis: ['appId'],
	},
	getAppDetailChangesBridge: {
		doOnAppSettingsChange: ['appId', 'setting'],
	},
	// The later base runtime controller resolves this name itself (not through AppBridges).
	getAppResourceBridge: {
		doProvideSlashCommand: ['command', 'appId'],
		doModifySlashCommand: ['command', 'appId'],
		doEnableSlashCommand: ['command', 'appId'],
		doDisableSlashCommand: ['command', 'appId'],
		doProvideApi: ['api', 'appId'],
		doListApis: ['appId'],
		doRegisterProcessors: ['processors', 'appId'],
		doRegisterActionButton: ['button', 'appId'],
		doRegisterExternalComponent: ['externalComponent', 'appId'],
		doProvideVideoConfProvider: ['provider', 'appId'],
		doRegisterOutboundProvider: ['provider', 'appId'],
		doProvideSetting: ['setting', 'appId'],
		doGetSettingById: ['id', 'appId'],
		doUpdateSettingValue: ['id', 'value', 'appId'],
		doUpdateSettingSelectOptions: ['id', 'values', 'appId'],
	},
	getCallHistoryBridge: {
		doGetById: ['id', 'uid', 'appId'],
		doGetByCallId: ['callId', 'uid', 'appId'],
		doSearch: ['uid', 'filters', 'pagination', 'appId'],
	},
	getCloudWorkspaceBridge: {
		doGetWorkspaceToken: ['scope', 'appId'],
	},
	getCommandBridge: {
		doDoesCommandExist: ['command', 'appId'],
		doEnableCommand: ['command', 'appId'],
		doDisableCommand: ['command', 'appId'],
		doModifyCommand: ['command', 'appId'],
		doRegisterCommand: ['command', 'appId'],
		doUnregisterCommand: ['command', 'appId'],
	},
	getContactBridge: {
		doGetById: ['contactId', 'appId'],
		doVerifyContact: ['verifyContactChannelParams', 'appId'],
		doAddContactEmail: ['contactId', 'email', 'appId'],
	},
	getEmailBridge: {
		doSendEmail: ['email', 'appId'],
	},
	getEnvironmentalVariableBridge: {
		doGetValueByName: ['envVarName', 'appId'],
		doIsReadable: ['envVarName', 'appId'],
		doIsSet: ['envVarName', 'appId'],
	},
	getExperimentalBridge: {},
	getHttpBridge: {
		doCall: ['info.appId'],
	},
	// No app id: what a room's usernames are, and the workspace's public key (the sandbox's own
	// room objects ask for the usernames).
	getInternalBridge: {
		doGetUsernamesOfRoomById: ['roomId'],
		doGetUsernamesOfRoomByIdSync: ['roomId'],
		doGetWorkspacePublicKey: [],
	},
	getLivechatBridge: {
		doIsOnline: ['departmentId?', 'appId?'],
		doIsOnlineAsync: ['departmentId?', 'appId?'],
		doCreateMessage: ['message', 'appId'],
		doGetMessageById: ['messageId', 'appId'],
		doUpdateMessage: ['message', 'appId'],
		doCreateVisitor: ['visitor', 'appId'],
		doCreateAndReturnVisitor: ['visitor', 'appId'],
		doFindVisitors: ['query', 'appId'],
		doFindVisitorById: ['id', 'appId'],
		doFindVisitorByEmail: ['email', 'appId'],
		doFindVisitorByToken: ['token', 'appId'],
		doFindVisitorByPhoneNumber: ['phoneNumber', 'appId'],
		doResolveVisitor: ['externalId', 'contactData', 'appId'],
		doTransferVisitor: ['visitor', 'transferData', 'appId'],
		doUpdateVisitorExternalId: ['visitorId', 'externalId', 'appId'],
		doCreateRoom: ['visitor', 'agent', 'appId', 'extraParams?'],
		doCloseRoom: ['room', 'comment', 'closer', 'appId'],
		doCountOpenRoomsByAgentId: ['agentId', 'appId'],
		doFindOpenRoomsByAgentId: ['agentId', 'appId'],
		doFindRooms: ['visitor', 'departmentId', 'appId'],
		doFindDepartmentByIdOrName: ['value', 'appId'],
		doFindDepartmentsEnabledWithAgents: ['appId'],
		do_fetchLivechatRoomMessages: ['appId', 'roomId'],
		doSetCustomFields: ['data', 'appId'],
	},
	getMediaCallBridge: {
		doGetById: ['callId', 'appId'],
	},
	getMessageBridge: {
		doCreate: ['message', 'appId'],
		doUpdate: ['message', 'appId'],
		doNotifyUser: ['user', 'message', 'appId'],
		doNotifyRoom: ['room', 'message', 'appId'],
		doTyping: ['options', 'appId'],
		doGetById: ['messageId', 'appId'],
		doDelete: ['message', 'user', 'appId'],
		doAddReaction: ['messageId', 'userId', 'reaction', 'appId'],
		doRemoveReaction: ['messageId', 'userId', 'reaction', 'appId'],
	},
	// The app id is the caller here too: upstream's ModerationModify forwards an app-supplied id,
	// which would let one app file reports in another's name.
	getModerationBridge: {
		doReport: ['messageId', 'description', 'userId', 'appId'],
		doDismissReportsByMessageId: ['messageId', 'reason', 'action', 'appId'],
		doDismissReportsByUserId: ['userId', 'reason', 'action', 'appId'],
	},
	getOAuthAppsBridge: {
		doCreate: ['oAuthApp', 'appId'],
		doGetByid: ['id', 'appId'],
		doGetByName: ['name', 'appId'],
		doUpdate: ['oAuthApp', 'id', 'appId'],
		doDelete: ['id', 'appId'],
		doPurge: ['appId'],
	},
	getOutboundMessageBridge: {
		doRegisterPhoneProvider: ['info', 'appId'],
		doRegisterEmailProvider: ['info', 'appId'],
		doUnRegisterProvider: ['info', 'appId'],
	},
	getPersistenceBridge: {
		doPurge: ['appId'],
		doCreate: ['data', 'appId'],
		doCreateWithAssociations: ['data', 'associations', 'appId'],
		doReadById: ['id', 'appId'],
		doReadByAssociations: ['associations', 'appId'],
		doRemove: ['id', 'appId'],
		doRemoveByAssociations: ['associations', 'appId'],
		doUpdate: ['id', 'data', 'upsert', 'appId'],
		doUpdateByAssociations: ['associations', 'data', 'upsert', 'appId'],
	},
	getRoleBridge: {
		doGetOneByIdOrName: ['idOrName', 'appId'],
		doGetCustomRoles: ['appId'],
	},
	getRoomBridge: {
		doCreate: ['room', 'members', 'appId'],
		doGetById: ['roomId', 'appId'],
		doGetByName: ['roomName', 'appId'],
		doGetCreatorById: ['roomId', 'appId'],
		doGetCreatorByName: ['roomName', 'appId'],
		doGetDirectByUsernames: ['usernames', 'appId'],
		doGetMembers: ['roomId', 'appId'],
		doGetAllRooms: ['filters?', 'options?', 'appId'],
		doUpdate: ['room', 'members', 'appId'],
		doCreateDiscussion: ['room', 'parentMessage', 'reply', 'members', 'appId'],
		doDelete: ['room', 'appId'],
		doGetModerators: ['roomId', 'appId'],
		doGetOwners: ['roomId', 'appId'],
		doGetLeaders: ['roomId', 'appId'],
		doGetMessages: ['roomId', 'options', 'appId'],
		doRemoveUsers: ['roomId', 'usernames', 'appId'],
		doGetUnreadByUser: ['roomId', 'uid', 'options', 'appId'],
		doGetUserUnreadMessageCount: ['roomId', 'uid', 'appId'],
	},
	getSchedulerBridge: {
		doRegisterProcessors: ['processors?', 'appId'],
		doScheduleOnce: ['job', 'appId'],
		doScheduleRecurring: ['job', 'appId'],
		doCancelJob: ['jobId', 'appId'],
		doCancelAllJobs: ['appId'],
	},
	// Only in a later develop version (packages/apps-engine/src/server/bridges/ServerEndpointsBridge.ts);
	// listed under the getter name that version's pattern gives it. Another name is refused.
	getServerEndpointsBridge: {
		doCall: ['info.appId'],
	},
	getServerSettingBridge: {
		doGetAll: ['appId'],
		doGetOneById: ['id', 'appId'],
		doHideGroup: ['name', 'appId'],
		doHideSetting: ['id', 'appId'],
		doIsReadableById: ['id', 'appId'],
		doUpdateOne: ['setting', 'appId'],
		doIncrementValue: ['id', 'value', 'appId'],
	},
	getThreadBridge: {
		doGetById: ['messageId', 'appId'],
	},
	getUiInteractionBridge: {
		doNotifyUser: ['user', 'interaction', 'appId'],
	},
	getUploadBridge: {
		doGetById: ['id', 'appId'],
		doGetBuffer: ['upload', 'appId'],
		doCreateUpload: ['details', 'buffer', 'appId'],
	},
	getUserBridge: {
		doGetById: ['id', 'appId'],
		doGetByUsername: ['username', 'appId'],
		doGetBySipExtension: ['extension', 'appId'],
		doGetAppUser: ['appId?'],
		doCreate: ['data', 'appId', 'options?'],
		doRemove: ['user', 'appId'],
		doUpdate: ['user', 'updates', 'appId'],
		doGetUserUnreadMessageCount: ['uid', 'appId'],
		doGetUserRoomIds: ['userId', 'appId'],
		// The app whose bot users are deleted: the caller, never another app.
		doDeleteUsersCreatedByApp: ['appId', 'type'],
		doDeactivate: ['userId', 'confirmRelinquish', 'appId'],
		doSetActiveState: ['userId', 'state', 'appId'],
		doEndActiveState: ['userId', 'appId'],
	},
	getVideoConferenceBridge: {
		doGetById: ['callId', 'appId'],
		doCreate: ['call', 'appId'],
		doUpdate: ['call', 'appId'],
		doRegisterProvider: ['info', 'appId'],
		doUnRegisterProvider: ['info', 'appId'],
	},
};

/**
 * Bridges the host uses about apps, never on an app's behalf; no method of theirs is callable
 * from a runtime. (Bridges that are in neither table are refused the same way.)
 */
export const HOST_ONLY_BRIDGES: Readonly<Record<string, string>> = {
	getAppActivationBridge: 'tells Rocket.Chat that an app was added, updated, removed or changed status; its methods take the app object itself',
	getListenerBridge: "delivers Rocket.Chat's events to the engine; no do* methods",
	getInternalFederationBridge: "the host's federation internals",
};
