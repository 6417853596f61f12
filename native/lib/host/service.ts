/**
 * `E2EEHostService`: what a Rocket.Chat server runs so that authorized apps are real members of
 * encrypted rooms. One per server instance, over one `AppKeyStore` and the host's ports; each
 * method is one flow (`lifecycle`, `keyDelivery`, `bridge`), called from the hook that Rocket.Chat
 * fires for it (the Meteor series) or from `AppE2EEBridge`.
 */
import type { EncryptedContent, MessagePayload } from '../content';
import type { AppKeyStore, Authorization } from '../keystore';
import * as bridge from './bridge';
import type { HostContext } from './context';
import * as delivery from './keyDelivery';
import * as lifecycle from './lifecycle';
import type { HostPorts, MessageDoc } from './ports';

export class E2EEHostService {
  readonly #context: HostContext;

  constructor(store: AppKeyStore, ports: HostPorts, options: { now?: () => number } = {}) {
    this.#context = { store, ports, provisional: new Set(), members: new Map(), now: options.now ?? Date.now };
  }

  /** The app was enabled, or the server started with it enabled: see `lifecycle.enableApp`. */
  enableApp(appId: string): Promise<lifecycle.EnableReport> {
    return lifecycle.enableApp(this.#context, appId);
  }

  /** An admin authorized the app for the room. */
  authorizeRoom(appId: string, roomId: string, actorId: string): Promise<Authorization> {
    return lifecycle.authorizeRoom(this.#context, appId, roomId, actorId);
  }

  /** An admin revoked the app's authorization for the room. */
  revokeRoom(appId: string, roomId: string, actorId: string): Promise<boolean> {
    return lifecycle.revokeRoom(this.#context, appId, roomId, actorId);
  }

  /** A member suggested a room key to the app user (`E2ESuggestedKey` was just stored). */
  onSuggestedKey(
    appId: string,
    appUserId: string,
    roomId: string,
    suggestedBy: string,
  ): Promise<delivery.DeliveryOutcome> {
    return delivery.onSuggestedKey(this.#context, appId, appUserId, roomId, suggestedBy);
  }

  /** A message was saved: it may settle a provisional key. */
  onMessage(message: MessageDoc): Promise<void> {
    return delivery.onMessage(this.#context, message);
  }

  /** The room's key was reset. */
  onRoomKeyReset(roomId: string, previousKid?: string, newKid?: string): Promise<string[]> {
    return lifecycle.onRoomKeyReset(this.#context, roomId, previousKid, newKid);
  }

  /** The app user left or was removed from the room. */
  onAppUserLeft(appId: string, roomId: string): Promise<void> {
    return lifecycle.onAppUserLeft(this.#context, appId, roomId);
  }

  /** `read.getE2EEReader().isAuthorized(roomId)`. */
  isAuthorized(appId: string, roomId: string): Promise<boolean> {
    return bridge.isAuthorized(this.#context, appId, roomId);
  }

  /** `read.getE2EEReader().getKeyHistory(roomId)`. */
  getKeyHistory(appId: string, roomId: string): Promise<bridge.RoomKeyInfo[]> {
    return bridge.getKeyHistory(this.#context, appId, roomId);
  }

  /** `read.getE2EEReader().getEncryptedRoomKey(roomId, kid)`. */
  getEncryptedRoomKey(appId: string, roomId: string, kid?: string): Promise<bridge.EncryptedRoomKey | undefined> {
    return bridge.getEncryptedRoomKey(this.#context, appId, roomId, kid);
  }

  /** `read.getE2EEReader().decryptMessage(message)`. */
  decryptMessage(appId: string, message: bridge.MessageToDecrypt): Promise<MessagePayload> {
    return bridge.decryptMessage(this.#context, appId, message);
  }

  /** `modify.getE2EE().encryptContent(roomId, payload)`. */
  encryptContent(appId: string, roomId: string, payload: MessagePayload): Promise<EncryptedContent> {
    return bridge.encryptContent(this.#context, appId, roomId, payload);
  }

  /** `modify.getE2EE().sendEncryptedMessage(roomId, payload, { threadId })`. */
  sendEncryptedMessage(
    appId: string,
    roomId: string,
    payload: MessagePayload,
    options?: { threadId?: string },
  ): Promise<string> {
    return bridge.sendEncryptedMessage(this.#context, appId, roomId, payload, options);
  }
}
