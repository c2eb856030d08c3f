/**
 * `error`, the errors of its `cause` and `originalError` links and the `errors` of an
 * `AggregateError`, breadth first, each once, at most `limit` of them. Client libraries wrap the
 * telling error (a TLS or an authentication failure) a few levels deep. Reading is defensive: a
 * thrown value may be anything (a Proxy, a getter that throws), and classifying it must not throw.
 */
export function errorChain(error: unknown, limit = 20): object[] {
  const chain: object[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < limit) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    chain.push(current);
    queue.push(readField(current, 'cause'), readField(current, 'originalError'));
    const errors = readField(current, 'errors');
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]).slice(0, limit));
  }
  return chain;
}

/** `object[key]`, or `undefined` when reading it throws. */
export function readField(object: object, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}
