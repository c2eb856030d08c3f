import { ConfigurationError, isMessageBrokerPort, type Logger, type MessageBrokerPort } from '@msgport/core';
import { adapterOptionsFor } from './internal/adapter-options.js';
import { loadedFrom } from './internal/loaded-configs.js';
import { loadConfig } from './load-config.js';
import type { MsgportConfig, MsgportConfigInput, ProviderName } from './msgport-config-schema.js';

/** The adapter packages autoconfig can load. */
export type AdapterModuleName = '@msgport/kafka' | '@msgport/rabbitmq' | '@msgport/memory';

/**
 * Loads an adapter package, like `import()`. Injectable so tests can simulate which adapters are
 * installed. It must reject the way `import()` does for a missing package (an error with code
 * `ERR_MODULE_NOT_FOUND` or `MODULE_NOT_FOUND` whose message names the package).
 */
export type AdapterImporter = (name: AdapterModuleName) => Promise<unknown>;

/** Options of {@link createBroker}. */
export interface CreateBrokerOptions {
  /**
   * Configuration in code, shaped like the `msgport.messaging` section (kebab-case keys): it wins
   * over the environment, the file and the defaults. A config returned by `loadConfig()` is used
   * as is (the file and environment are not read again).
   */
  readonly config?: MsgportConfigInput;
  /** The config file to read; wins over `MSGPORT_CONFIG`. @default msgport.yaml in the working directory */
  readonly configPath?: string;
  /** Environment for `MSGPORT_CONFIG` and `MSGPORT_MESSAGING_*`. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Directory searched for the config file. @default process.cwd() */
  readonly cwd?: string;
  /** How adapter packages are imported. @default a literal `import()` of each package */
  readonly importer?: AdapterImporter;
  /** Logger given to the adapter; wins over `log-level`. @default the adapter's console logger */
  readonly logger?: Logger;
}

/** What {@link createBroker} returns. */
export interface CreatedBroker {
  /** The adapter, not started yet. */
  readonly broker: MessageBrokerPort;
  /** Which adapter it is. */
  readonly provider: ProviderName;
  /** True when `provider: auto` picked it, false when it was configured. */
  readonly detected: boolean;
  /** The validated configuration it was created from. */
  readonly config: MsgportConfig;
  /** The config file that was read, or null when none was. */
  readonly configFile: string | null;
}

const DETECTION_ORDER: ReadonlyArray<readonly [ProviderName, AdapterModuleName, string]> = [
  ['kafka', '@msgport/kafka', 'KafkaAdapter'],
  ['rabbitmq', '@msgport/rabbitmq', 'RabbitMQAdapter'],
  ['memory', '@msgport/memory', 'InMemoryMessageBroker'],
];

/**
 * The default importer. Each package is imported with a literal specifier, so bundlers and
 * package managers see the optional peers.
 */
const importAdapter: AdapterImporter = (name) => {
  switch (name) {
    case '@msgport/kafka':
      return import('@msgport/kafka');
    case '@msgport/rabbitmq':
      return import('@msgport/rabbitmq');
    case '@msgport/memory':
      return import('@msgport/memory');
    default:
      return Promise.reject(new ConfigurationError(`Unknown msgport adapter package ${JSON.stringify(name)}.`));
  }
};

/**
 * Creates the broker the configuration asks for, not started.
 *
 * With `provider: auto` (the default), the first installed of `@msgport/kafka`,
 * `@msgport/rabbitmq` and `@msgport/memory` is used. Only a "module not found" error for that very
 * package means "not installed" and moves on; any other error while importing an adapter (a
 * syntax error, a missing dependency of the adapter such as kafkajs) stops the search.
 *
 * @throws {ConfigurationError} code `INVALID_CONFIG` / `CONFIG_FILE_NOT_FOUND` from `loadConfig()`;
 *   `PROVIDER_NOT_INSTALLED` when the configured adapter (or, with auto, every adapter) is not
 *   installed, with the install command; `PROVIDER_LOAD_FAILED` when an installed adapter fails to
 *   load (the original error is the `cause`).
 * @throws {InvalidArgumentError} when the adapter rejects an option.
 */
export async function createBroker(options: CreateBrokerOptions = {}): Promise<CreatedBroker> {
  const loadedFile = loadedFrom(options.config);
  const config =
    loadedFile !== undefined
      ? (options.config as MsgportConfig)
      : loadConfig({
          ...(options.configPath === undefined ? {} : { path: options.configPath }),
          ...(options.env === undefined ? {} : { env: options.env }),
          ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
          ...(options.config === undefined ? {} : { overrides: options.config }),
        });
  const configFile = loadedFrom(config) ?? null;
  const importer = options.importer ?? importAdapter;

  let chosen:
    { provider: ProviderName; module: Record<string, unknown>; exportName: string; name: AdapterModuleName } | undefined;
  if (config.provider === 'auto') {
    for (const [provider, name, exportName] of DETECTION_ORDER) {
      const module = await tryImport(importer, name);
      if (module !== null) {
        chosen = { provider, module, exportName, name };
        break;
      }
    }
    if (chosen === undefined) {
      throw new ConfigurationError(
        `No msgport adapter is installed (tried ${DETECTION_ORDER.map(([, name]) => name).join(', ')}). ` +
          'Run: npm install @msgport/memory (or @msgport/kafka, or @msgport/rabbitmq).',
        { code: 'PROVIDER_NOT_INSTALLED' },
      );
    }
  } else {
    const entry = DETECTION_ORDER.find(([provider]) => provider === config.provider)!;
    const [provider, name, exportName] = entry;
    const module = await tryImport(importer, name);
    if (module === null) {
      throw new ConfigurationError(
        `msgport.messaging.provider is "${provider}" but ${name} is not installed. ` +
          `Run: npm install ${name} (or set provider to auto to use whichever adapter is installed).`,
        { code: 'PROVIDER_NOT_INSTALLED' },
      );
    }
    chosen = { provider, module, exportName, name };
  }

  const Adapter = chosen.module[chosen.exportName];
  if (typeof Adapter !== 'function') {
    throw new ConfigurationError(
      `${chosen.name} does not export ${chosen.exportName}; its version probably does not match @msgport/autoconfig. ` +
        `Install matching versions of ${chosen.name} and @msgport/autoconfig.`,
      { code: 'PROVIDER_LOAD_FAILED' },
    );
  }
  const adapterOptions = {
    ...adapterOptionsFor(chosen.provider, config),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  const logger = adapterOptions['logger'];
  const broker: unknown = new (Adapter as new (options: Record<string, unknown>) => unknown)(adapterOptions);
  if (!isMessageBrokerPort(broker)) {
    throw new ConfigurationError(
      `${chosen.exportName} from ${chosen.name} is not a MessageBrokerPort; install matching msgport versions.`,
      {
        code: 'PROVIDER_LOAD_FAILED',
      },
    );
  }
  logger?.info(
    `Using the ${chosen.provider} adapter (${config.provider === 'auto' ? `auto-detected: ${chosen.name} is installed` : 'configured'}).`,
  );
  return Object.freeze({ broker, provider: chosen.provider, detected: config.provider === 'auto', config, configFile });
}

/** Imports `name`; null when that package is not installed; any other failure is wrapped and thrown. */
async function tryImport(importer: AdapterImporter, name: AdapterModuleName): Promise<Record<string, unknown> | null> {
  try {
    const module = await importer(name);
    return typeof module === 'object' && module !== null ? (module as Record<string, unknown>) : {};
  } catch (error) {
    if (isModuleNotFound(error, name)) return null;
    throw new ConfigurationError(
      `${name} is installed but could not be loaded: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}. ` +
        `Reinstall or fix ${name} (see the cause), or set msgport.messaging.provider to another adapter.`,
      { code: 'PROVIDER_LOAD_FAILED', cause: error },
    );
  }
}

/**
 * True only for "module not found" about `name` itself. A missing dependency of the adapter
 * (`Cannot find package 'kafkajs'`) or a missing file inside it names something else, so it is a
 * broken installation, not an absent one.
 */
function isModuleNotFound(error: unknown, name: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && (message.includes(`'${name}'`) || message.includes(`"${name}"`));
}
