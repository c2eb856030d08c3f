import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { isMessagingError, SubscribeError, type Logger } from '@msgport/core';
import type { Admin, Kafka } from 'kafkajs';
import { isRetriableJoinError } from '../src/internal/first-join.js';
import { GroupConsumer, type GroupConsumerOptions } from '../src/internal/group-consumer.js';

// A kafkajs consumer stands in for the real one: the first join of a subscription that crashes
// with a retriable error (issue 11: a topic just created whose metadata has not reached every
// broker of the cluster) is tried again, within the join bound; other errors fail at once.

/** What the fake broker answers to one join: a crash with this error, or a join. */
type Outcome = Error | 'join';

/** A kafkajs-like protocol error, as the broker's answer is wrapped. */
function protocolError(type: string, message: string, retriable: boolean): Error {
  return Object.assign(new Error(message), { name: 'KafkaJSProtocolError', type, retriable });
}

const unknownTopic = (): Error =>
  protocolError('UNKNOWN_TOPIC_OR_PARTITION', 'This server does not host this topic-partition', true);
const notAuthorized = (): Error =>
  protocolError('GROUP_AUTHORIZATION_FAILED', 'Not authorized to access group: Group authorization failed', false);

interface Fake {
  readonly consumer: GroupConsumer;
  /** Consumers created so far (one per attempt). */
  readonly created: () => number;
  readonly warnings: string[];
}

/**
 * A GroupConsumer whose kafkajs consumers answer `outcomes` in turn (the last one repeats), with
 * `ensureTopic` failing with `topicErrors` first.
 */
function fake(outcomes: Outcome[], options: { joinTimeoutMs?: number; topicErrors?: Error[] } = {}): Fake {
  let created = 0;
  const topicErrors = [...(options.topicErrors ?? [])];
  const warnings: string[] = [];
  const logger: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => void warnings.push(message),
    error: () => undefined,
  };
  const newConsumer = () => {
    const outcome = outcomes[Math.min(created, outcomes.length - 1)] as Outcome;
    created++;
    const events = new EventEmitter();
    return {
      events: { GROUP_JOIN: 'join', CRASH: 'crash', REBALANCING: 'rebalancing' },
      on: (event: string, listener: (event: unknown) => void) => events.on(event, listener),
      connect: async () => undefined,
      subscribe: async () => undefined,
      // Like kafkajs: run() resolves after the first join, or after a crash while joining.
      run: async () => {
        if (outcome === 'join') events.emit('join', { payload: { memberAssignment: { t: [0] } } });
        else events.emit('crash', { payload: { error: outcome } });
      },
      disconnect: async () => undefined,
      seek: () => undefined,
    };
  };
  const options_: GroupConsumerOptions = {
    newClient: () => ({ consumer: newConsumer }) as unknown as Kafka,
    admin: {} as Admin,
    offsetsAdmin: {} as Admin,
    group: 'g',
    groupId: 'g',
    // No start position to pin: the fake has no admin to read offsets with.
    fromBeginning: true,
    sessionTimeoutMs: 6_000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 300,
    fetchMaxWaitMs: 100,
    requestTimeoutMs: 30_000,
    joinTimeout: { ms: options.joinTimeoutMs ?? 60_000, option: 'connectionTimeoutMs' },
    retry: { retries: 0 },
    partitionAssigners: [],
    logger,
    redact: (text) => text,
    ensureTopic: async () => {
      const error = topicErrors.shift();
      if (error !== undefined)
        throw new SubscribeError('Cannot subscribe to "t": the topic could not be created', { cause: error });
    },
  };
  return { consumer: new GroupConsumer(options_), created: () => created, warnings };
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('GroupConsumer: the first join', () => {
  it('is tried again after a retriable crash (UNKNOWN_TOPIC_OR_PARTITION), and the subscribe resolves once joined', async () => {
    const { consumer, created, warnings } = fake([unknownTopic(), unknownTopic(), 'join']);
    await consumer.add('t', async () => undefined, 1);
    expect(created()).toBe(3);
    expect(consumer.health.state).toBe('up');
    expect(consumer.health.assignment).toEqual({ t: [0] });
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toContain('This server does not host this topic-partition');
    await consumer.close();
  });

  it('is tried again after a retriable failure to create the topic', async () => {
    const leaderNotAvailable = protocolError('LEADER_NOT_AVAILABLE', 'There is no leader for this topic-partition', true);
    const { consumer, created } = fake(['join'], { topicErrors: [leaderNotAvailable] });
    await consumer.add('t', async () => undefined, 1);
    expect(created()).toBe(1);
    expect(consumer.health.state).toBe('up');
    await consumer.close();
  });

  it('fails at once on a non-retriable crash', async () => {
    const { consumer, created, warnings } = fake([notAuthorized(), 'join']);
    const error = await rejection(consumer.add('t', async () => undefined, 1));
    expect(error).toBeInstanceOf(SubscribeError);
    expect(error.message).toContain('could not join the group (Not authorized to access group');
    expect(created()).toBe(1);
    expect(warnings).toEqual([]);
    await consumer.close();
  });

  it('gives up at the join bound with a SubscribeError naming the last error', async () => {
    const last = unknownTopic();
    const { consumer, created } = fake([unknownTopic(), last], { joinTimeoutMs: 1_000 });
    const error = await rejection(consumer.add('t', async () => undefined, 1));
    expect(isMessagingError(error) && error.code).toBe('SUBSCRIBE_FAILED');
    expect(error.message).toMatch(
      /^Cannot subscribe to "t" in group "g": the consumer could not join the group after \d+ attempt\(s\) in \d+ ms \(bound: connectionTimeoutMs, 1000 ms\)\. Last error: This server does not host this topic-partition$/,
    );
    expect(created()).toBeGreaterThan(1);
    // The cause chain leads to the broker's answer.
    expect((error.cause as Error).cause).toBe(last);
    await consumer.close();
  });

  it('the rejoin that adds a topic to a member already consuming is tried again too', async () => {
    const { consumer, created } = fake(['join', unknownTopic(), 'join']);
    await consumer.add('t', async () => undefined, 1);
    await consumer.add('u', async () => undefined, 1);
    expect(created()).toBe(3);
    expect(consumer.topics).toEqual(['t', 'u']);
    expect(consumer.health.state).toBe('up');
    await consumer.close();
  });
});

describe('isRetriableJoinError', () => {
  it('reads the whole cause chain', () => {
    const exhausted = Object.assign(new Error('retries exhausted'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      retriable: false,
      cause: unknownTopic(),
    });
    expect(isRetriableJoinError(exhausted)).toBe(true);
    expect(isRetriableJoinError(Object.assign(new Error('closed'), { name: 'KafkaJSConnectionClosedError' }))).toBe(true);
    expect(isRetriableJoinError(protocolError('NOT_COORDINATOR', 'not coordinator', true))).toBe(true);
  });

  it('is false for msgport errors, authorization, authentication and other errors', () => {
    expect(isRetriableJoinError(new SubscribeError('Cannot subscribe to "t": the consumer was closed.'))).toBe(false);
    expect(isRetriableJoinError(notAuthorized())).toBe(false);
    expect(isRetriableJoinError(protocolError('SASL_AUTHENTICATION_FAILED', 'bad password', false))).toBe(false);
    expect(isRetriableJoinError(new Error('boom'))).toBe(false);
  });
});
