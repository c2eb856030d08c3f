/** What replaces a secret in a text. */
const MASK = '***';

/** Replaces every secret (a URL password, a SASL password, a TLS passphrase) in a text by `***`. */
export type Redact = (text: string) => string;

/**
 * A {@link Redact} for these secrets; empty and missing ones are ignored. Apply it to everything an
 * adapter writes that may quote a client library: error messages, log lines, health details (C9).
 */
export function createRedactor(secrets: ReadonlyArray<string | undefined>): Redact {
  const list = [...new Set(secrets.filter((secret): secret is string => typeof secret === 'string' && secret.length > 0))];
  // Longest first, so a secret that contains another one is replaced whole.
  list.sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => {
    let result = text;
    for (const secret of list) result = result.split(secret).join(MASK);
    return result;
  };
}

/**
 * `url` with the password of its user info replaced by `***` (`amqp://user:***@host:5672/`), for
 * messages, logs, health details and printed configs; a URL without a password comes back as is.
 * A string that does not parse as a URL is not echoed at all (`<unparseable URL>`): where its user
 * info ends cannot be told reliably, and masking too much is safe.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '<unparseable URL>';
  }
  if (parsed.password === '') return url;
  parsed.password = MASK;
  return parsed.toString();
}

/**
 * The password of `url` in every spelling a client library may quote it in: as written, as
 * normalized by the URL parser, and percent-decoded. Empty when it has none. Feed it to
 * {@link createRedactor}.
 */
export function urlSecrets(url: string): string[] {
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

/** The password exactly as written in `url` (user info ends at the last "@" of the authority). */
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
