import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { describeConfigKeys, loadConfig, type ConfigKeyInfo } from '@msgport/autoconfig';
import { isMessagingError } from '@msgport/core';
import { AppProcess, killAllApps, type AppEvent } from './support/app-process.js';
import { deleteKafkaResources, deleteRabbitTopology, requireKafka, requireRabbit, unique } from './support/brokers.js';
import { recordFigures } from './support/figures.js';
import { adapterOptions, type BrokerKind } from './support/scenario.js';

// Scenario 6: bad input. Every case gets a MessagingError that says what happened, to what, and
// what to do — within a bound, never a crash (the cases run in an application process of their
// own, which must report no uncaught error) and never a hang (each case has a deadline, and the
// process must exit by itself once it stopped its brokers: nothing left running).

/** Words that tell the user what to do or what is required ("Use …", "Call start() first", "must be a function", "e.g. …"). */
const ADVICE =
  /\b(Use|use|Call|Check|check|Send|send|Convert|Serialize|Start|Run|Set|set|Lower|Raise|raise|Omit|omit|Delete|delete|Pass|Install|Fix|Publish|Keep|Make|Remove|Provide|Expected|expected|must)\b|e\.g\./;

interface Expectation {
  readonly name: string;
  readonly code?: string;
  readonly retriable?: boolean;
  /** Substrings the message must contain ("to what"). */
  readonly mentions: readonly string[];
  /** A pattern the message must match. */
  readonly matches?: RegExp;
}

function expectationFor(kind: BrokerKind, caseName: string, topic: string): Expectation | 'resolves' {
  if (caseName.startsWith('after a too-large message')) return 'resolves';
  if (/^(publish|subscribe): .*topic/.test(caseName)) return { name: 'InvalidArgumentError', mentions: ['invalid topic'] };
  if (/^publish: (value|key|header|headers|options)/.test(caseName))
    return { name: 'InvalidArgumentError', mentions: [`"${topic}"`] };
  if (/^subscribe: handler/.test(caseName)) return { name: 'InvalidArgumentError', mentions: [`"${topic}"`, 'handler'] };
  if (/^subscribe: group/.test(caseName)) return { name: 'InvalidArgumentError', mentions: [`"${topic}"`, 'group'] };
  if (/too large|over maxMessageBytes|over the broker limit/.test(caseName)) {
    return { name: 'PublishError', code: 'MESSAGE_TOO_LARGE', retriable: false, mentions: [`"${topic}"`] };
  }
  if (caseName === 'publish before start()') return { name: 'BrokerStateError', mentions: [`"${topic}"`, 'start()'] };
  if (caseName === 'publish after stop()') return { name: 'BrokerStateError', mentions: [`"${topic}"`, 'start()'] };
  if (caseName.startsWith('constructor:')) return { name: 'InvalidArgumentError', mentions: [] };
  const address = /unreachable broker (\S+)/.exec(caseName)?.[1];
  if (address !== undefined) return { name: 'ConnectionError', mentions: [address] };
  if (/wrong password|unknown user|virtual host/.test(caseName)) {
    return { name: 'ConnectionError', code: 'AUTHENTICATION_FAILED', retriable: false, mentions: ['127.0.0.1'] };
  }
  if (/ssl|amqps/.test(caseName))
    return { name: 'ConnectionError', mentions: [kind === 'kafka' ? '127.0.0.1:9092' : '127.0.0.1'], matches: /TLS|SSL/ };
  if (/SASL/.test(caseName))
    return { name: 'ConnectionError', code: 'AUTHENTICATION_FAILED', mentions: ['127.0.0.1:9092'], matches: /sasl|SASL/ };
  throw new Error(`no expectation for case "${caseName}"`);
}

describe.each<BrokerKind>(['kafka', 'rabbitmq'])('%s: bad input', (kind) => {
  const topic = unique('rel-badinput');
  const exchange = unique('msgport-rel');

  afterEach(async () => {
    await killAllApps();
  });
  afterAll(async () => {
    if (kind === 'kafka') await deleteKafkaResources([topic, `${topic}.DLT`]);
    else await deleteRabbitTopology(exchange, []);
  });

  it('gets a clear MessagingError for every case, within its bound, and the application neither crashes nor hangs', async () => {
    await (kind === 'kafka' ? requireKafka() : requireRabbit());
    const began = Date.now();
    const app = new AppProcess('bad-input', `bad-input-${kind}`, {
      broker: kind,
      options: adapterOptions(kind, exchange, { shutdownTimeoutMs: 2_000 }),
      topic,
      unreachable: ['127.0.0.1:1', `10.255.255.1:${kind === 'kafka' ? 9092 : 5672}`],
    });
    await app.waitForEvent('done', 180_000);
    // Every broker was stopped: the process must now end by itself (a leftover timer, socket or
    // reconnection loop would keep it alive).
    const exit = await app.expectCleanExit(10_000);

    const cases = app.events.filter((event) => event.e === 'case');
    const problems: string[] = [];
    for (const result of cases) {
      const name = String(result['case']);
      const expectation = expectationFor(kind, name, topic);
      const error = result['error'] as
        { messaging: boolean; name: string; code: string; retriable: boolean; message: string } | undefined;
      const ms = Number(result['ms']);
      const bound = Number(result['bound']);
      const where = `${name}: ${String(result['outcome'])} in ${ms} ms${error === undefined ? '' : ` — ${error.name} ${error.code}: ${error.message}`}`;
      if (ms > bound) problems.push(`${where} (over its bound of ${bound} ms)`);
      if (expectation === 'resolves') {
        if (result['outcome'] !== 'resolved') problems.push(`${where} (expected it to resolve)`);
        continue;
      }
      if (result['outcome'] !== 'rejected' || error === undefined) {
        problems.push(`${where} (expected a rejection)`);
        continue;
      }
      if (!error.messaging) problems.push(`${where} (not a MessagingError)`);
      if (error.name !== expectation.name) problems.push(`${where} (expected ${expectation.name})`);
      if (expectation.code !== undefined && error.code !== expectation.code)
        problems.push(`${where} (expected code ${expectation.code})`);
      if (expectation.retriable !== undefined && error.retriable !== expectation.retriable) {
        problems.push(`${where} (expected retriable ${expectation.retriable})`);
      }
      for (const mention of expectation.mentions)
        if (!error.message.includes(mention)) problems.push(`${where} (does not mention ${mention})`);
      if (expectation.matches !== undefined && !expectation.matches.test(error.message))
        problems.push(`${where} (does not match ${expectation.matches})`);
      if (!ADVICE.test(error.message)) problems.push(`${where} (says nothing about what to do)`);
    }
    const connectionCases = cases.filter((event) => String(event['case']).startsWith('start():'));
    const slowestStart = Math.max(...connectionCases.map((event) => event['ms'] as number));

    recordFigures({
      scenario: '6. bad input',
      broker: kind,
      sent: null,
      confirmed: null,
      received: null,
      lost: null,
      duplicates: null,
      recoverMs: slowestStart,
      durationMs: Date.now() - began,
      notes:
        `${cases.length} cases, ${problems.length} problem(s); recover = slowest failing start() (unreachable, TLS, credentials; ` +
        `connectionTimeoutMs 2000, bound 5000 ms); process exited by itself (code ${exit.code})`,
    });
    console.log(
      cases
        .map(
          (event) =>
            `${String(event['case'])}: ${String(event['outcome'])} ${Number(event['ms'])} ms ${JSON.stringify(event['error'] ?? '')}`,
        )
        .join('\n'),
    );

    expect(app.events.filter((event: AppEvent) => event.e === 'crash')).toEqual([]);
    expect(problems).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(30);
    expect(exit).toMatchObject({ code: 0, signal: null });
  }, 240_000);
});

// ---- configuration: an invalid value for every key that describeConfigKeys() lists ------------

/** Invalid values for a key: wrong type, and out of range or format where the key has one. */
function invalidValues(key: ConfigKeyInfo): unknown[] {
  const path = key.path.join('.');
  switch (key.type) {
    case 'integer':
      return [1.5, 'ten', ...(key.min === undefined ? [] : [key.min - 1])];
    case 'number':
      return ['ten', ...(key.min === undefined ? [] : [key.min - 1]), ...(key.max === undefined ? [] : [key.max + 1])];
    case 'boolean':
      return ['yes', 1];
    case 'enum':
      return ['no-such-choice', 7];
    case 'json':
      // A list of objects: not a list (JSON or not), an entry without its required fields.
      return ['not a list', '{"topic":"orders"}', 42, [{ topic: 'orders' }]];
    case 'string':
      if (path === 'kafka.bootstrap-servers') return [9092, 'localhost', 'localhost:99999', 'a:1,,b:2'];
      if (path === 'rabbitmq.url') return [5672, 'not a url', 'http://guest:guest@localhost/', 'amqp://'];
      return [42, ''];
  }
}

/** A complete SASL section, so that one bad field is the only problem. */
const VALID_SASL = { mechanism: 'plain', username: 'alice', password: 'p4ss' };

function nest(path: readonly string[], value: unknown): Record<string, unknown> {
  if (path[0] === 'kafka' && path[1] === 'sasl') return { kafka: { sasl: { ...VALID_SASL, [path[2]!]: value } } };
  let result: unknown = value;
  for (let index = path.length - 1; index >= 0; index--) result = { [path[index]!]: result };
  return result as Record<string, unknown>;
}

describe('configuration: an invalid value for every key', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'msgport-rel-config-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('loadConfig() rejects each with a ConfigurationError naming the key, its source and what is expected', () => {
    const keys = describeConfigKeys();
    const problems: string[] = [];
    let cases = 0;
    for (const key of keys) {
      const path = `msgport.messaging.${key.path.join('.')}`;
      for (const value of invalidValues(key)) {
        // In code (overrides) …
        cases++;
        const overrides = nest(key.path, value);
        problems.push(
          ...checkRejected(
            () => loadConfig({ cwd, env: {}, overrides }),
            path,
            'in options',
            `${path} = ${JSON.stringify(value)}`,
          ),
        );
        // … and from the environment, where every value is a string.
        if (typeof value === 'string' && value !== '' && !key.path.includes('sasl')) {
          cases++;
          problems.push(
            ...checkRejected(() => loadConfig({ cwd, env: { [key.env]: value } }), path, key.env, `${key.env}=${value}`),
          );
        }
      }
    }
    recordFigures({
      scenario: '6. bad input: configuration keys',
      broker: 'both',
      sent: null,
      confirmed: null,
      received: null,
      lost: null,
      duplicates: null,
      recoverMs: null,
      durationMs: 0,
      notes: `${keys.length} keys from describeConfigKeys(), ${cases} invalid values (options and environment), ${problems.length} problem(s)`,
    });
    expect(keys.length).toBeGreaterThan(15);
    expect(problems).toEqual([]);
  });
});

function checkRejected(load: () => unknown, path: string, source: string, what: string): string[] {
  try {
    load();
    return [`${what}: accepted`];
  } catch (error) {
    const problems: string[] = [];
    const message = error instanceof Error ? error.message : String(error);
    if (!isMessagingError(error) || error.name !== 'ConfigurationError')
      problems.push(`${what}: ${String(error)} is not a ConfigurationError`);
    else if (error.code !== 'INVALID_CONFIG') problems.push(`${what}: code ${error.code}`);
    if (!message.includes(path)) problems.push(`${what}: the message does not name ${path}: ${message}`);
    if (!message.includes(source)) problems.push(`${what}: the message does not name the source ${source}: ${message}`);
    if (!ADVICE.test(message)) problems.push(`${what}: the message says nothing about what is expected: ${message}`);
    return problems;
  }
}
