/**
 * `text` with its line breaks (and the blanks around them) turned into single spaces, trimmed: an
 * error text quoted in an error message, a log line or a health detail stays on one line.
 */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
