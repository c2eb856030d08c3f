// Shared helpers of the reliability suite's child applications. Each child is a real application
// instance: a plain Node process that loads the BUILT packages (packages/*/dist, built by the
// suite's global setup with `tsc -b`), takes its settings as JSON in RELIABILITY_APP_CONFIG, and
// reports what it does as one JSON object per line on stdout. Log lines go to stderr.
//
// stdout writes to a pipe are synchronous on Linux, so an event written before a handler resolves
// is in the parent's pipe before the message is acknowledged, even if the process is SIGKILLed
// right after.

const root = new URL('../../../', import.meta.url);

/** @returns {Promise<typeof import('../../../packages/core/dist/index.js')>} */
export function loadCore() {
  return import(new URL('packages/core/dist/index.js', root).href);
}

export async function loadAdapterClass(kind) {
  switch (kind) {
    case 'kafka':
      return (await import(new URL('packages/kafka/dist/index.js', root).href)).KafkaAdapter;
    case 'rabbitmq':
      return (await import(new URL('packages/rabbitmq/dist/index.js', root).href)).RabbitMQAdapter;
    case 'memory':
      return (await import(new URL('packages/memory/dist/index.js', root).href)).InMemoryMessageBroker;
    default:
      throw new Error(`unknown broker kind ${JSON.stringify(kind)}`);
  }
}

export function loadAutoconfig() {
  return import(new URL('packages/autoconfig/dist/index.js', root).href);
}

export function readConfig() {
  const raw = process.env.RELIABILITY_APP_CONFIG;
  if (raw === undefined) throw new Error('RELIABILITY_APP_CONFIG is not set');
  return JSON.parse(raw);
}

export function emit(event) {
  process.stdout.write(`${JSON.stringify(event)}\n`);
  if (process.env.RELIABILITY_TRACE_HANDLES === '1') process.stderr.write(`[trace] ${Date.now()} event ${event.e}\n`);
}

/** A logger that writes every entry at or above `level` to stderr, one line each. */
export function stderrLogger(name, level = 'info') {
  const levels = ['debug', 'info', 'warn', 'error'];
  const threshold = levels.indexOf(level);
  const write = (entryLevel) => (message, fields) => {
    if (levels.indexOf(entryLevel) < threshold) return;
    let suffix = '';
    if (fields !== undefined) {
      try {
        suffix = ` ${JSON.stringify(fields, (_key, value) => (value instanceof Error ? value.message : value))}`;
      } catch {
        suffix = ' {unserializable fields}';
      }
    }
    process.stderr.write(`[${name} ${process.pid}] ${entryLevel}: ${message}${suffix}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** Any crash of the application is reported as an event and ends it with exit code 70. */
export function reportCrashes() {
  const crash = (kind) => (error) => {
    emit({ e: 'crash', kind, name: error?.name, message: error instanceof Error ? error.message : String(error) });
    process.stderr.write(`${kind}: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(70);
  };
  process.on('uncaughtException', crash('uncaughtException'));
  process.on('unhandledRejection', crash('unhandledRejection'));
}

export function describeError(error) {
  return {
    name: error?.name,
    code: error?.code,
    retriable: error?.retriable,
    message: error instanceof Error ? error.message : String(error),
  };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Call once the application has finished and should exit by itself. If it is still running after
 * `afterMs`, writes what keeps Node's event loop alive to stderr (the parent shows the log tail
 * when the exit check fails). The timer is unref'd: it never keeps the process alive itself.
 */
/**
 * With RELIABILITY_TRACE_HANDLES=1, remembers where every timer, socket and server still alive was
 * created, so that reportLingeringHandles can say who holds the process. Diagnostic only: slow.
 */
const tracedResources = new Map();
if (process.env.RELIABILITY_TRACE_HANDLES === '1') {
  const { createHook } = await import('node:async_hooks');
  Error.stackTraceLimit = 60;
  const traced = new Set(['Timeout', 'TCPWRAP', 'TCPCONNECTWRAP', 'TLSWRAP', 'GETADDRINFOREQWRAP', 'Immediate']);
  createHook({
    init(asyncId, type, _triggerId, resource) {
      if (!traced.has(type)) return;
      const stack = new Error().stack
        .split('\n')
        .slice(2)
        .filter((line) => !line.includes('node:internal'))
        .join('\n    ');
      tracedResources.set(asyncId, { type, resource, at: Date.now(), stack: `\n    ${stack}` });
    },
    destroy(asyncId) {
      tracedResources.delete(asyncId);
    },
  }).enable();
}

export function reportLingeringHandles(afterMs = 5_000) {
  setTimeout(() => {
    for (const [id, entry] of tracedResources) {
      if (entry.type === 'Timeout' && !entry.resource.hasRef?.()) continue;
      process.stderr.write(
        `[lingering] ${entry.type} #${id} created at ${entry.at} (${Date.now() - entry.at} ms ago) by${entry.stack}\n`,
      );
    }
    const resources = process.getActiveResourcesInfo();
    process.stderr.write(`[lingering] still running ${afterMs} ms after done; active resources: ${JSON.stringify(resources)}\n`);
    for (const handle of process._getActiveHandles()) {
      const name = handle?.constructor?.name;
      let detail = '';
      if (name === 'Socket') detail = ` ${handle.remoteAddress ?? '?'}:${handle.remotePort ?? '?'} destroyed=${handle.destroyed}`;
      if (name === 'Timeout')
        detail = ` after=${handle._idleTimeout} repeat=${handle._repeat} fn=${String(handle._onTimeout).slice(0, 300).replace(/\s+/g, ' ')}`;
      process.stderr.write(`[lingering] ${name}${detail}\n`);
    }
  }, afterMs).unref();
}
