import { describe, expect, it } from '@jest/globals';
import type { LogEntry } from 'kafkajs';
import { createRedactor } from '@msgport/core/adapter';
import { createLogCreator, REPEAT_WINDOW_MS } from '../src/internal/log-creator.js';
import { SOCKET_CLOSED_BY_MSGPORT } from '../src/internal/socket-registry.js';
import { recordingLogger } from './kafka-test-config.js';

const entry = (level: number, namespace: string, message: string, extra: Record<string, unknown> = {}): LogEntry => ({
  namespace,
  level,
  label: level === 1 ? 'ERROR' : 'WARN',
  log: { timestamp: '', logger: 'kafkajs', message, ...extra },
});

describe('createLogCreator()', () => {
  it('forwards WARN and ERROR entries and drops the rest', () => {
    const logger = recordingLogger('none');
    const log = createLogCreator(logger, (text) => text)(2);
    log(entry(1, 'Consumer', 'boom'));
    log(entry(2, 'Cluster', 'careful'));
    log(entry(4, 'Consumer', 'info chatter'));
    expect(logger.lines).toEqual(['error: kafkajs [Consumer] boom {}', 'warn: kafkajs [Cluster] careful {}']);
  });

  it('redacts secrets from the message and from every forwarded field, and drops stacks', () => {
    const logger = recordingLogger('none');
    const log = createLogCreator(logger, createRedactor(['hunter22']))(2);
    log(
      entry(1, 'Connection', 'auth with hunter22 failed', {
        error: 'password hunter22 rejected',
        stack: 'Error at hunter22',
        groupId: 'g',
      }),
    );
    expect(logger.lines.join('\n')).not.toContain('hunter22');
    expect(logger.lines[0]).toContain('***');
    expect(logger.lines[0]).toContain('"groupId":"g"');
    expect(logger.lines[0]).not.toContain('stack');
  });

  it('sends protocol error responses, consumer crash lines, producer errors and connections it closed itself to debug', () => {
    const logger = recordingLogger('none');
    const log = createLogCreator(logger, (text) => text)(2);
    log(entry(1, 'Connection', 'Response CreateTopics(key: 19, version: 3)', { error: 'Topic creation errors' }));
    log(entry(1, 'Consumer', 'Crash: KafkaJSError: x'));
    log(entry(1, 'Producer', 'Failed to send messages: x'));
    log(entry(1, 'Connection', `Connection error: ${SOCKET_CLOSED_BY_MSGPORT}`));
    log(entry(2, 'Cluster', 'still a warning'));
    expect(logger.lines.map((line) => line.split(':')[0])).toEqual(['debug', 'debug', 'debug', 'debug', 'warn']);
  });

  it('logs a line repeated during an outage once per window, then says how often it came', () => {
    const logger = recordingLogger('none');
    let now = 0;
    const log = createLogCreator(
      logger,
      (text) => text,
      () => now,
    )(2);
    for (let i = 0; i < 5; i++) log(entry(1, 'Connection', 'Connection error: ECONNREFUSED'));
    now = REPEAT_WINDOW_MS + 1;
    log(entry(1, 'Connection', 'Connection error: ECONNREFUSED'));
    expect(logger.lines).toEqual([
      'error: kafkajs [Connection] Connection error: ECONNREFUSED {}',
      'error: kafkajs [Connection] Connection error: ECONNREFUSED (and 4 more time(s) since the last report) {}',
    ]);
  });
});
