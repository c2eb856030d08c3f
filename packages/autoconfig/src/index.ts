export {
  PROVIDERS,
  SASL_MECHANISMS,
  msgportConfigSchema,
  msgportFileSchema,
  type MsgportConfig,
  type MsgportConfigInput,
  type MsgportFile,
  type ProviderName,
  type ProviderSetting,
} from './msgport-config-schema.js';
export { loadConfig, type LoadConfigOptions } from './load-config.js';
export { describeConfigKeys, type ConfigKeyInfo, type ConfigKeyType } from './describe-config-keys.js';
export { REDACTED, formatConfig, redactConfig } from './redact-config.js';
export {
  createBroker,
  type AdapterImporter,
  type AdapterModuleName,
  type CreateBrokerOptions,
  type CreatedBroker,
} from './create-broker.js';
export { startMessaging, type MessagingHandle, type StartMessagingOptions } from './start-messaging.js';
