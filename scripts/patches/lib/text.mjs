// Wording helpers for summaries.

/** "1 patch", "3 patches", "0 files". */
export function count(n, singular, plural = `${singular}s`) {
  return `${n} ${n === 1 ? singular : plural}`;
}
