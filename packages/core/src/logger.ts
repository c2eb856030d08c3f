/** Structured logger accepted by every adapter. Fields never contain credentials. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Log levels, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * A logger writing one line per entry to `console.error`, dropping entries below `level`.
 * @default level 'warn'
 */
export function createConsoleLogger(level: LogLevel = 'warn', prefix = 'msgport'): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const write =
    (entryLevel: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (LOG_LEVELS.indexOf(entryLevel) < threshold) return;
      const suffix = fields === undefined ? '' : ` ${safeJson(fields)}`;
      console.error(`[${prefix}] ${entryLevel}: ${message}${suffix}`);
    };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
});

function safeJson(fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields, (_key, value: unknown) => (value instanceof Error ? value.message : value));
  } catch {
    return '{}';
  }
}
