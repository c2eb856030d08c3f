/**
 * The candidate the user most probably meant by `input`, or undefined: same name up to case and
 * separators (`bootstrapServers`, `bootstrap_servers` → `bootstrap-servers`), a prefix
 * (`rabbit` → `rabbitmq`), a near typo (edit distance of at most a third of the length), or a
 * near typo of a prefix (`rabit` → `rabbitmq`).
 */
export function suggest(input: string, candidates: Iterable<string>): string | undefined {
  const normalize = (value: string): string => value.toLowerCase().replace(/[-_\s]/g, '');
  const wanted = normalize(input);
  const list = [...candidates];
  const same = list.find((candidate) => normalize(candidate) === wanted);
  if (same !== undefined) return same;
  if (wanted.length >= 3) {
    const prefixed = list.filter((candidate) => normalize(candidate).startsWith(wanted));
    if (prefixed.length === 1) return prefixed[0];
  }
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(wanted.length / 3)) + 1;
  for (const candidate of list) {
    const distance = editDistance(wanted, normalize(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined) return best;
  if (wanted.length >= 4) {
    // A misspelt abbreviation: `rabit` is one edit away from the start of `rabbitmq`.
    const near = list.filter((candidate) => {
      const normalized = normalize(candidate);
      return [wanted.length - 1, wanted.length, wanted.length + 1].some(
        (length) => editDistance(wanted, normalized.slice(0, length)) <= 1,
      );
    });
    if (near.length === 1) return near[0];
  }
  return undefined;
}

/** Levenshtein distance, with a transposition counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, d[i - 2]![j - 2]! + 1);
      d[i]![j] = value;
    }
  }
  return d[a.length]![b.length]!;
}
