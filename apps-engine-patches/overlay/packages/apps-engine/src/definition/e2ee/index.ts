export * from './version';
export type * from './IMessageEncryptedContent';
export type * from './IE2EEMessagePayload';
export type * from './IE2EERead';
export type * from './IE2EEModify';
export type * from './IE2EEEventContext';
export type * from './IPostE2EERoomKeyReady';
export type * from './IPostE2EERoomKeyRotated';
export type * from './IPostE2EEAccessRevoked';
