// A strict TypeScript consumer of the package, compiled without skipLibCheck by
// strict-consumer.test.ts: the published declarations (the facade's and the generated
// binding's) must type-check as they are, and the public API must read as documented.
import {
  AppKeyStore,
  E2EEError,
  RoomKey,
  RoomKeyRing,
  RsaPrivateKey,
  decryptContent,
  decryptContentBatch,
  decryptMessage,
  encryptContent,
  unwrapRoomKey,
  wrapRoomKey,
  type AcceptedRoomKey,
  type RoomKeyStatus,
} from 'rc-e2ee';

export async function member(
  jwk: string,
  e2eKey: string,
  message: { t: 'e2e'; content: Record<string, string> },
): Promise<string> {
  const key = RsaPrivateKey.fromJwk(jwk);
  const roomKey: RoomKey = await unwrapRoomKey(key, e2eKey);
  const ring = new RoomKeyRing([roomKey]);
  const text: string = decryptContent(ring, message.content);
  const payload = decryptMessage(ring, message);
  const batch = await decryptContentBatch(ring, [message.content]);
  const content = encryptContent(roomKey, { msg: `${text}${String(payload.msg)}${batch.length}` });
  return wrapRoomKey(roomKey, key.publicKey()) + content.kid;
}

export async function app(url: string, kekFile: string): Promise<RoomKeyStatus> {
  const store = await AppKeyStore.open({ url, kekFile });
  const publicKey: string = await store.ensureIdentity('app', 'app.bot');
  await store.authorize('app', 'room', 'admin');
  const accepted: AcceptedRoomKey = await store.acceptRoomKey('app', 'room', publicKey, {
    expectedKid: 'kid',
    suggestedBy: 'alice',
    proofs: [{ senderId: 'bob', content: { algorithm: 'rc.v2.aes-sha2', kid: 'kid', iv: 'x', ciphertext: 'y' } }],
  });
  const status: RoomKeyStatus = await store.confirmRoomKey('app', 'room', { senderId: 'carol', content: {} });
  try {
    await store.decryptMessage('app', 'room', {});
  } catch (error) {
    if (error instanceof E2EEError && error.code === 'KEYSTORE_NO_ROOM_KEY')
      await store.loadRoomKeys('app', 'room', { E2EKey: null });
  }
  await store.close();
  return accepted.status === 'verified' ? status : 'provisional';
}
