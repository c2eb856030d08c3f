/**
 * Masks the password of a URL's user info. A string that does not parse is masked from `//user:`
 * to its last `@` (masking too much is safe).
 */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password === '') return value;
    url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/([^/@:]*):.*@/, '//$1:***@');
  }
}

