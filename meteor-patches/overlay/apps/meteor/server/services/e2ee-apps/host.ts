/**
 * rc-e2ee: the one key store and the one host service of this server process.
 *
 * Off unless the operator configures the custody of the apps' private keys in the environment
 * (never in settings, so a settings admin cannot point the key store at a key of their choosing;
 * docs/operations.md): by default a key-encryption key, `RC_E2EE_KEK_FILE` (a mounted secret file
 * holding `openssl rand -base64 32`); or a PKCS#11 token, `RC_E2EE_CUSTODY=pkcs11-kek` (the KEK in
 * the token) or `pkcs11-rsa` (each app's key pair in the token), with `RC_E2EE_PKCS11_MODULE`,
 * `RC_E2EE_PKCS11_TOKEN_LABEL`, `RC_E2EE_PKCS11_PIN_FILE` and optionally `RC_E2EE_PKCS11_KEY_LABEL`.
 * And an admin turned the `E2E_Enable_Apps`
 * setting on (with `E2E_Enable`; read at every call, so turning it off stops every flow at once). The key store lives in Rocket.Chat's
 * own database (`MONGO_URL`; collections `rc_e2ee_app_identities`, `rc_e2ee_app_authorizations`,
 * `rc_e2ee_audit`). A wrong or missing KEK, an unknown `RC_E2EE_CUSTODY` or a token that cannot be
 * used fails the open (`KEYSTORE_BAD_KEK`, `KEYSTORE_BAD_INPUT`, `KEYSTORE_HSM_*`): every E2EE call
 * then fails, closed, and the error is logged once.
 */
import { AppKeyStore, E2EEHostService } from 'rc-e2ee';
import type { AppKeyStoreOptions } from 'rc-e2ee';

import { resolveAppUser } from './appUsers';
import { rocketChatPorts } from './ports';
import { isE2EEAppsEnabled } from './settings';
import { SystemLogger } from '../../lib/logger/system';

export type IE2EEAppsConfig = Pick<AppKeyStoreOptions, 'url' | 'kekFile' | 'custody'>;

const PKCS11_MODES: Record<string, 'kek' | 'rsa'> = { 'pkcs11-kek': 'kek', 'pkcs11-rsa': 'rsa' };

/**
 * The key store's options from the environment, or `undefined` when E2EE for apps is off (no
 * database, or no custody configured). A custody named but incomplete is an error, not "off": the
 * operator meant to turn the feature on.
 */
export function e2eeAppsConfig(env: NodeJS.ProcessEnv = process.env): IE2EEAppsConfig | undefined {
	const url = env.MONGO_URL?.trim();
	const custody = env.RC_E2EE_CUSTODY?.trim() || 'sealed';
	if (!url) {
		return undefined;
	}
	if (custody === 'sealed') {
		const kekFile = env.RC_E2EE_KEK_FILE?.trim();
		return kekFile ? { url, kekFile } : undefined;
	}
	const mode = PKCS11_MODES[custody];
	if (!mode) {
		throw new Error('RC_E2EE_CUSTODY must be sealed, pkcs11-kek or pkcs11-rsa');
	}
	const module = env.RC_E2EE_PKCS11_MODULE?.trim();
	const tokenLabel = env.RC_E2EE_PKCS11_TOKEN_LABEL?.trim();
	const pinFile = env.RC_E2EE_PKCS11_PIN_FILE?.trim();
	if (!module || !tokenLabel || !pinFile) {
		throw new Error(`RC_E2EE_CUSTODY=${custody} needs RC_E2EE_PKCS11_MODULE, RC_E2EE_PKCS11_TOKEN_LABEL and RC_E2EE_PKCS11_PIN_FILE`);
	}
	const keyLabel = env.RC_E2EE_PKCS11_KEY_LABEL?.trim();
	return { url, custody: { kind: 'pkcs11', mode, module, tokenLabel, pinFile, ...(keyLabel && { keyLabel }) } };
}

export class E2EEAppsDisabledError extends Error {
	public readonly code = 'HOST_E2EE_DISABLED';

	constructor() {
		super('E2EE for apps is off on this server (no key custody configured, or E2E_Enable_Apps off)');
		this.name = 'E2EEAppsDisabledError';
	}
}

interface IE2EEAppsHost {
	store: AppKeyStore;
	service: E2EEHostService;
}

let opening: Promise<IE2EEAppsHost | undefined> | undefined;

async function open(): Promise<IE2EEAppsHost | undefined> {
	try {
		const config = e2eeAppsConfig();
		if (!config) {
			return undefined;
		}
		const store = await AppKeyStore.open(config);
		return { store, service: new E2EEHostService(store, rocketChatPorts) };
	} catch (error) {
		SystemLogger.error({ msg: 'rc-e2ee: the app key store did not open; E2EE for apps fails closed', err: error });
		throw error;
	}
}

/** The host (key store and service), opened on first use; `undefined` when the feature is off. */
export function getE2EEAppsHost(): Promise<IE2EEAppsHost | undefined> {
	if (!isE2EEAppsEnabled()) {
		return Promise.resolve(undefined);
	}
	opening ??= open();
	return opening;
}

/** The service, or `E2EEAppsDisabledError` when the feature is off. */
export async function requireE2EEHostService(): Promise<E2EEHostService> {
	const host = await getE2EEAppsHost();
	if (!host) {
		throw new E2EEAppsDisabledError();
	}
	return host.service;
}

/**
 * Runs `fn` with the service for an app whose user has just been resolved (the service's
 * `AppsPort.appUserId` is synchronous). `undefined` when the feature is off.
 */
export async function withAppHost<T>(appId: string, fn: (service: E2EEHostService) => Promise<T>): Promise<T | undefined> {
	const host = await getE2EEAppsHost();
	if (!host) {
		return undefined;
	}
	await resolveAppUser(appId);
	return fn(host.service);
}
