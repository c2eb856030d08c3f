import { describe, expect, it } from '@jest/globals';
import { formatConfig, loadConfig, redactConfig, REDACTED } from '@msgport/autoconfig';
import { load } from 'js-yaml';
import { tempDir } from './temp-dir.js';

const SECRET = 'hunter2-Secret';

function configWithSecrets() {
  const made = tempDir({
    'msgport.yaml': `
msgport:
  messaging:
    kafka:
      sasl: { mechanism: plain, username: app, password: ${SECRET} }
    rabbitmq:
      url: amqp://app:${SECRET}@rabbit:5672/vhost
`,
  });
  try {
    return loadConfig({ cwd: made.dir, env: {} });
  } finally {
    made.cleanup();
  }
}

describe('redactConfig()', () => {
  it('masks the SASL password and the password in the RabbitMQ URL, and nothing else', () => {
    const redacted = redactConfig(configWithSecrets());
    expect(redacted.kafka.sasl).toEqual({ mechanism: 'plain', username: 'app', password: REDACTED });
    expect(redacted.rabbitmq.url).toBe('amqp://app:***@rabbit:5672/vhost');
    expect(redacted.kafka['bootstrap-servers']).toBe('localhost:9092');
    expect(JSON.stringify(redacted)).not.toContain(SECRET);
  });

  it('leaves the original untouched', () => {
    const config = configWithSecrets();
    redactConfig(config);
    expect(config.kafka.sasl?.password).toBe(SECRET);
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactConfig({ rabbitmq: { url: 'amqp://localhost/' } }).rabbitmq?.url).toBe('amqp://localhost/');
  });

  it('masks the password of every URL of a list, comma-separated or not', () => {
    const joined = redactConfig({ rabbitmq: { url: `amqp://a:${SECRET}@r1/,amqp://b:${SECRET}2@r2/` } }).rabbitmq?.url;
    expect(joined).toBe('amqp://a:***@r1/,amqp://b:***@r2/');
    const listed = redactConfig({ rabbitmq: { url: [`amqp://a:${SECRET}@r1/`, 'amqp://r2/'] } }).rabbitmq?.url;
    expect(listed).toEqual(['amqp://a:***@r1/', 'amqp://r2/']);
    // A comma inside a password does not split the URL.
    expect(redactConfig({ rabbitmq: { url: `amqp://a:x,${SECRET}@r1/` } }).rabbitmq?.url).toBe('amqp://a:***@r1/');
  });

  it('masks a URL that does not even parse', () => {
    expect(redactConfig({ rabbitmq: { url: `amqp://app:${SECRET}@/x@y` } }).rabbitmq?.url).not.toContain(SECRET);
  });
});

describe('formatConfig()', () => {
  it('prints the configuration as msgport.yaml, credentials masked', () => {
    const text = formatConfig(configWithSecrets());
    expect(text).not.toContain(SECRET);
    expect(text).toContain("password: '***'");
    expect(load(text)).toMatchObject({
      msgport: { messaging: { provider: 'auto', rabbitmq: { url: 'amqp://app:***@rabbit:5672/vhost' } } },
    });
  });
});
