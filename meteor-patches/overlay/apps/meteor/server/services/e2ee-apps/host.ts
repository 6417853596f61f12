/**
 * rc-e2ee: the one key store and the one host service of this server process.
 *
 * Off unless the operator gives a key-encryption key: `RC_E2EE_KEK_FILE` (a mounted secret file
 * holding `openssl rand -base64 32`; docs/operations.md), and an admin turned the `E2E_Enable_Apps`
 * setting on (with `E2E_Enable`; read at every call, so turning it off stops every flow at once). The key store lives in Rocket.Chat's
 * own database (`MONGO_URL`; collections `rc_e2ee_app_identities`, `rc_e2ee_app_authorizations`,
 * `rc_e2ee_audit`). A wrong or missing KEK fails the open (`KEYSTORE_BAD_KEK`): every E2EE call
 * then fails, closed, and the error is logged once.
 */
import { AppKeyStore, E2EEHostService } from 'rc-e2ee';

import { resolveAppUser } from './appUsers';
import { rocketChatPorts } from './ports';
import { isE2EEAppsEnabled } from './settings';
import { SystemLogger } from '../../lib/logger/system';

export interface IE2EEAppsConfig {
	url: string;
	kekFile: string;
}

/** The key store's options from the environment, or `undefined` when E2EE for apps is off. */
export function e2eeAppsConfig(env: NodeJS.ProcessEnv = process.env): IE2EEAppsConfig | undefined {
	const kekFile = env.RC_E2EE_KEK_FILE?.trim();
	const url = env.MONGO_URL?.trim();
	if (!kekFile || !url) {
		return undefined;
	}
	return { url, kekFile };
}

export class E2EEAppsDisabledError extends Error {
	public readonly code = 'HOST_E2EE_DISABLED';

	constructor() {
		super('E2EE for apps is off on this server (no RC_E2EE_KEK_FILE, or E2E_Enable_Apps off)');
		this.name = 'E2EEAppsDisabledError';
	}
}

interface IE2EEAppsHost {
	store: AppKeyStore;
	service: E2EEHostService;
}

let opening: Promise<IE2EEAppsHost | undefined> | undefined;

async function open(): Promise<IE2EEAppsHost | undefined> {
	const config = e2eeAppsConfig();
	if (!config) {
		return undefined;
	}
	try {
		const store = await AppKeyStore.open({ url: config.url, kekFile: config.kekFile });
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
