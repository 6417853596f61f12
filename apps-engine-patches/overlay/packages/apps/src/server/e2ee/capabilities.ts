/**
 * Which E2EE capabilities a set of granted permissions gives. Pure, so the tests share it with
 * the host; `hostView.ts` feeds it from Rocket.Chat's permission manager.
 */
import type { IE2EECapabilities } from './viewForApp';

export const E2EE_READ = 'e2ee.read';
export const E2EE_WRITE = 'e2ee.write';

export function capabilitiesFrom(granted: ReadonlyArray<{ name: string }> | undefined): IE2EECapabilities {
	const names = new Set((granted ?? []).map(({ name }) => name));
	return { read: names.has(E2EE_READ), write: names.has(E2EE_WRITE) };
}

export const NO_CAPABILITIES: IE2EECapabilities = Object.freeze({ read: false, write: false });
