const MASK = '***';

/**
 * The URL with its password replaced by `***` (`amqp://user:***@host:5672/`), for messages, logs
 * and health details. A URL that cannot be parsed is not echoed at all.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable URL>';
  }
  if (parsed.password !== '') parsed.password = MASK;
  return parsed.toString();
}

/** The password of `url`: as written, as normalized by the URL parser and decoded; empty when it has none. */
export function secretsOf(url: string): string[] {
  const secrets = new Set<string>();
  const written = writtenPassword(url);
  if (written !== undefined) secrets.add(written);
  try {
    const password = new URL(url).password;
    secrets.add(password);
    secrets.add(decodeURIComponent(password));
  } catch {
    // Unparseable URL or malformed percent-encoding: what was found so far is all there is.
  }
  if (written !== undefined) {
    try {
      secrets.add(decodeURIComponent(written));
    } catch {
      // As above.
    }
  }
  return [...secrets].filter((secret) => secret.length > 0);
}

/** `text` with every occurrence of each secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join(MASK);
  return result;
}

/** The password exactly as written in `url` (userinfo ends at the last "@" of the authority). */
function writtenPassword(url: string): string | undefined {
  const start = url.indexOf('://');
  if (start < 0) return undefined;
  const rest = url.slice(start + 3);
  const slash = rest.search(/[/?#]/);
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  if (at < 0) return undefined;
  const userinfo = authority.slice(0, at);
  const colon = userinfo.indexOf(':');
  return colon < 0 ? undefined : userinfo.slice(colon + 1);
}
