/**
 * `AppKeyStore.open({ custody })` against the real PKCS#11 soft tokens of scripts/test-hsm/start
 * (SoftHSM2 for `kek` mode, kryoptic for `rsa` mode): identities live in the token, a broken
 * setup fails with its own code before anything is written, bad options are KEYSTORE_BAD_INPUT.
 * Without the tokens the suite fails, unless RC_E2EE_SKIP_HSM=1 says to skip knowingly.
 */
import { randomUUID } from 'node:crypto';

import { AppKeyStore, CustodyOptions, Pkcs11CustodyOptions, RoomKey, wrapRoomKey } from '../../native';
import { code, fileBackend, newKek } from './backends';

interface Tokens {
  softhsm: string;
  kryoptic: string;
  pinFile: string;
  otherPinFile: string;
}

function tokens(): Tokens | undefined {
  const env = process.env;
  if (env.RC_E2EE_SOFTHSM_MODULE && env.RC_E2EE_KRYOPTIC_MODULE && env.RC_E2EE_HSM_PIN_FILE) {
    return {
      softhsm: env.RC_E2EE_SOFTHSM_MODULE,
      kryoptic: env.RC_E2EE_KRYOPTIC_MODULE,
      pinFile: env.RC_E2EE_HSM_PIN_FILE,
      otherPinFile: env.RC_E2EE_HSM_OTHER_PIN_FILE ?? '',
    };
  }
  if (env.RC_E2EE_SKIP_HSM === '1') {
    console.warn('RC_E2EE_SKIP_HSM=1: the PKCS#11 custody suite is skipped');
    return undefined;
  }
  throw new Error(
    'no PKCS#11 test token: start them with eval "$(scripts/test-hsm/start)", or set RC_E2EE_SKIP_HSM=1 to skip knowingly',
  );
}

const hsm = tokens();
const describeHsm = hsm ? describe : describe.skip;
const APP = '4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f';

describeHsm('PKCS#11 custody', () => {
  const t = hsm as Tokens;
  const kekMode = (): Pkcs11CustodyOptions => ({
    kind: 'pkcs11',
    mode: 'kek',
    module: t.softhsm,
    tokenLabel: 'rc-e2ee-test',
    pinFile: t.pinFile,
    keyLabel: `jest-${randomUUID()}`,
    createKey: true,
  });
  const rsaMode = (): Pkcs11CustodyOptions => ({
    kind: 'pkcs11',
    mode: 'rsa',
    module: t.kryoptic,
    tokenLabel: 'rc-e2ee-test',
    pinFile: t.pinFile,
    keyLabel: `jest-${randomUUID()}`,
  });

  it.each([
    ['kek', kekMode],
    ['rsa', rsaMode],
  ])('%s mode: an identity lives in the token and unwraps its room keys', async (mode, custody) => {
    const backend = fileBackend();
    try {
      const options = { ...backend.location(), custody: custody() };
      const store = await AppKeyStore.open(options);
      const publicKey = await store.ensureIdentity(APP, 'app.bot');
      await store.authorize(APP, 'room', 'admin');
      const roomKey = RoomKey.generate();
      const loaded = await store.loadRoomKeys(APP, 'room', {
        E2EKey: wrapRoomKey(roomKey, publicKey),
        oldRoomKeys: [],
      });
      expect(loaded.unreadable).toBe(0);
      expect(store.kekId).toMatch(mode === 'rsa' ? /^p11rsa-/ : /^p11-/);
      const [created] = await store.audit({ action: 'identity.create' });
      expect(created.detail).toContain(`pkcs11-${mode} kek_id=${store.kekId} token=rc-e2ee-test`);
      await store.close();
      // A second open (another instance) finds the same identity through the token.
      const again = await AppKeyStore.open(options);
      expect(await again.ensureIdentity(APP, 'app.bot')).toBe(publicKey);
      await again.close();
    } finally {
      await backend.cleanup();
    }
  });

  it('a broken setup fails at open with its own code, nothing written', async () => {
    const backend = fileBackend();
    try {
      const open = (custody: CustodyOptions) => AppKeyStore.open({ ...backend.location(), custody });
      const good = kekMode();
      expect(await code(open({ ...good, module: '/nonexistent/libpkcs11.so' }))).toBe('KEYSTORE_HSM_MODULE');
      expect(await code(open({ ...good, tokenLabel: 'no-such-token' }))).toBe('KEYSTORE_HSM_TOKEN');
      expect(await code(open({ ...good, pinFile: t.otherPinFile }))).toBe('KEYSTORE_HSM_PIN');
      expect(await code(open({ ...good, pinFile: '/nonexistent/pin' }))).toBe('KEYSTORE_HSM_PIN');
      expect(await code(open({ ...good, createKey: false }))).toBe('KEYSTORE_HSM_KEY');
      expect(await code(open({ ...rsaMode(), tokenLabel: 'rc-e2ee-nomech' }))).toBe('KEYSTORE_HSM_MECHANISM');
      // No file was created: every failure came before the store was touched.
      await expect(backend.dump()).rejects.toThrow();
    } finally {
      await backend.cleanup();
    }
  });

  it('bad custody options are KEYSTORE_BAD_INPUT', async () => {
    const backend = fileBackend();
    try {
      const open = (custody: unknown, extra: object = {}) =>
        AppKeyStore.open({ ...backend.location(), ...extra, custody: custody as CustodyOptions });
      const good: Record<string, unknown> = { ...rsaMode() };
      for (const bad of [
        null,
        'pkcs11',
        { kind: 'hsm' },
        { ...good, mode: 'aes' },
        { ...good, mode: undefined },
        { ...good, module: 42 },
        { ...good, module: '' },
        { ...good, tokenLabel: undefined },
        { ...good, pinFile: undefined },
        { ...good, createKey: 'yes' },
        { ...good, createKey: true },
      ]) {
        expect(await code(open(bad))).toBe('KEYSTORE_BAD_INPUT');
      }
      expect(await code(open({ kind: 'sealed', module: t.softhsm }, { kek: newKek() }))).toBe('KEYSTORE_BAD_INPUT');
      expect(await code(open(good, { kek: newKek() }))).toBe('KEYSTORE_BAD_INPUT');
      // Sealed custody named explicitly is the default.
      const sealed = await AppKeyStore.open({ ...backend.location(), kek: newKek(), custody: { kind: 'sealed' } });
      await sealed.close();
    } finally {
      await backend.cleanup();
    }
  });
});
