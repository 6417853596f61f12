/**
 * Large arguments of background calls, handed to the addon a slice per turn of the event loop
 * (see `native/crates/node/src/staging.rs`): reading an 11 MiB ciphertext or copying a 32 MiB
 * file in one go held the event loop for 15 to 30 ms, most of it the kernel mapping fresh
 * pages; a slice of 128 KiB takes a fraction of a millisecond.
 */
import native = require('./binding');
import { call } from './errors';

/**
 * Characters (of a text) or bytes (of a file) copied per turn of the event loop: about 0.2 ms
 * here, most of it first touching the pages (256 KiB took up to 1 ms under load).
 */
export const STAGE_SLICE = 128 * 1024;

/** Largest text staged: the codec's cap, so that a longer one is refused as it always was. */
const MAX_STAGED_CHARS = 64 * 1024 * 1024;

/** Resolves on the next turn of the event loop (after pending I/O callbacks). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether a text argument of `length` characters is staged rather than passed whole. */
export function stagesText(length: number): boolean {
  return length > STAGE_SLICE && length <= MAX_STAGED_CHARS;
}

/** `text` as a staged argument, copied a slice per turn; for a text that {@link stagesText}. */
export async function stageText(text: string): Promise<native.Staged> {
  const staged = call(() => native.Staged.withLength(text.length));
  for (let at = 0; at < text.length; at += STAGE_SLICE) {
    if (at > 0) await nextTurn();
    // A slice of a flat string shares its characters: no copy until the addon's.
    const slice = text.slice(at, at + STAGE_SLICE);
    call(() => staged.appendText(slice));
  }
  return staged;
}

/**
 * The bytes of `data` as a staged argument, copied a slice per turn. Changing `data` before
 * the call settles changes what it reads; detaching it fails the call (`E2EE_BAD_INPUT`).
 */
export async function stageBytes(data: Buffer): Promise<native.Staged> {
  const staged = call(() => native.Staged.withLength(data.length));
  for (let at = 0; at < data.length; at += STAGE_SLICE) {
    if (at > 0) await nextTurn();
    const slice = data.subarray(at, at + STAGE_SLICE);
    call(() => staged.appendBytes(slice));
  }
  return staged;
}
