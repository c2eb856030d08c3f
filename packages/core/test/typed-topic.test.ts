import { describe, expect, it } from '@jest/globals';
import {
  createMessage,
  defineTopic,
  InvalidArgumentError,
  InvalidMessageError,
  isTypedTopic,
  jsonCodec,
  MessageListener,
  messageListener,
  registerListeners,
  type Codec,
  type Message,
  type StandardSchemaV1,
} from '@msgport/core';
import { RecordingBroker } from './support/recording-broker.js';

interface Point {
  readonly x: number;
  readonly y: number;
}

/** A Standard Schema of `{ x: number, y: number }` whose output adds nothing; optionally async. */
function pointSchema(async = false): StandardSchemaV1<Point> {
  const validate = (value: unknown): StandardSchemaV1.Result<Point> => {
    const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    const issues = (['x', 'y'] as const)
      .filter((name) => typeof record[name] !== 'number')
      .map((name) => ({ message: 'Expected a number', path: [name] }));
    return issues.length > 0 ? { issues } : { value: { x: record['x'] as number, y: record['y'] as number } };
  };
  return {
    '~standard': { version: 1, vendor: 'test', validate: async ? (value) => Promise.resolve(validate(value)) : validate },
  };
}

const context = { signal: new AbortController().signal };

/** What `fn` throws or rejects with. */
async function failureOf(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('defineTopic()', () => {
  it('publishes a valid value as JSON by the topic name, with the publish options', async () => {
    const broker = new RecordingBroker();
    const points = defineTopic('points', pointSchema());
    await points.publish(broker, { x: 1, y: 2 }, { key: 'p' });
    expect(broker.published).toEqual([{ topic: 'points', value: '{"x":1,"y":2}', options: { key: 'p' } }]);
    expect(isTypedTopic(points)).toBe(true);
    expect(isTypedTopic({ name: 'points' })).toBe(false);
    expect(points.codec).toBe(jsonCodec);
  });

  it('rejects an invalid value with InvalidArgumentError listing every issue by path, sync or async schema, and sends nothing', async () => {
    for (const async of [false, true]) {
      const broker = new RecordingBroker();
      const points = defineTopic('points', pointSchema(async));
      const error = await points.publish(broker, { x: 'one' } as unknown as Point).catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).issues).toEqual(['x: Expected a number', 'y: Expected a number']);
      expect((error as Error).message).toBe(
        'Cannot publish to "points": the value does not match the topic\'s schema. Issues: x: Expected a number; y: Expected a number.',
      );
      expect(broker.published).toEqual([]);
    }
  });

  it('uses the codec given in the options both ways, and rejects a value it cannot encode', async () => {
    const codec: Codec = {
      encode: (value) => {
        const point = value as Point;
        if (point.x < 0) throw new RangeError('negative x');
        return new Uint8Array([point.x, point.y]);
      },
      decode: (bytes) => ({ x: bytes[0], y: bytes[1] }),
    };
    const broker = new RecordingBroker();
    const points = defineTopic('points', pointSchema(), { codec });
    const received: Point[] = [];
    await points.subscribe(broker, (point) => void received.push(point));
    await points.publish(broker, { x: 3, y: 4 });
    expect(broker.published[0]!.value).toEqual(new Uint8Array([3, 4]));
    await broker.subscriptions[0]!.handler(createMessage({ topic: 'points', value: new Uint8Array([5, 6]) }), context);
    expect(received).toEqual([{ x: 5, y: 6 }]);
    const error = await points.publish(broker, { x: -1, y: 0 }).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain('the codec cannot encode the value (negative x)');
  });

  it('hands the handler the payload, the message and the context; an undecodable or invalid message throws InvalidMessageError instead', async () => {
    const broker = new RecordingBroker();
    const points = defineTopic('points', pointSchema(true));
    const calls: unknown[][] = [];
    await points.subscribe(broker, (...args) => void calls.push(args), 'g');
    const handler = broker.subscriptions[0]!.handler;
    expect(broker.subscriptions[0]!.options).toEqual({ group: 'g' });

    const valid = createMessage({ topic: 'points', value: '{"x":1,"y":2}' });
    await handler(valid, context);
    expect(calls).toEqual([[{ x: 1, y: 2 }, valid, context]]);

    const undecodable = await failureOf(() => handler(createMessage({ topic: 'points', value: '{' }), context));
    expect(undecodable).toBeInstanceOf(InvalidMessageError);
    expect((undecodable as InvalidMessageError).retriable).toBe(false);
    expect((undecodable as Error).message).toMatch(
      /^A message from "points" cannot be decoded \(.*JSON.*\); its handler was not called\.$/,
    );

    const invalid = await failureOf(() => handler(createMessage({ topic: 'points', value: '{"x":1}' }), context));
    expect(invalid).toBeInstanceOf(InvalidMessageError);
    expect((invalid as InvalidMessageError).issues).toEqual(['y: Expected a number']);
    expect(calls).toHaveLength(1);

    await expect(points.parse(valid)).resolves.toEqual({ x: 1, y: 2 });
    await expect(points.parse(createMessage({ topic: 'points', value: '[]' }))).rejects.toBeInstanceOf(InvalidMessageError);
  });

  it('rejects what is not a Standard Schema, a bad codec or an illegal topic name when the topic is defined', () => {
    expect(() => defineTopic('points', {} as StandardSchemaV1)).toThrow(InvalidArgumentError);
    expect(() => defineTopic('points', { '~standard': { version: 2 } } as unknown as StandardSchemaV1)).toThrow(
      /Standard Schema v1/,
    );
    expect(() => defineTopic('points', pointSchema(), { codec: { encode: () => '' } as unknown as Codec })).toThrow(
      /encode\(\) and decode\(\)/,
    );
    expect(() => defineTopic('bad name', pointSchema())).toThrow(InvalidArgumentError);
  });

  it('lists issues of nested paths with dots and issues of the whole value as (root)', async () => {
    const schema: StandardSchemaV1<unknown> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => ({
          issues: [{ message: 'Too small', path: ['items', 0, { key: 'quantity' }] }, { message: 'Unknown shape' }],
        }),
      },
    };
    const error = await defineTopic('t', schema)
      .publish(new RecordingBroker(), {})
      .catch((failure: unknown) => failure);
    expect((error as InvalidArgumentError).issues).toEqual(['items.0.quantity: Too small', '(root): Unknown shape']);
  });
});

describe('listeners on typed topics', () => {
  it('@MessageListener({ topic: typedTopic }) hands the method the payload and the message', async () => {
    const points = defineTopic('points', pointSchema());
    class Plotter {
      readonly plotted: string[] = [];
      @MessageListener({ topic: points, group: 'plot', concurrency: 2 })
      onPoint(point: Point, message: Message): void {
        this.plotted.push(`${point.x},${point.y} from ${message.topic}`);
      }
    }
    const broker = new RecordingBroker();
    const plotter = new Plotter();
    const [subscription] = await registerListeners(broker, plotter);
    expect(subscription!.topic).toBe('points');
    expect(broker.subscriptions[0]!.options).toEqual({ group: 'plot', concurrency: 2 });
    await broker.deliver('points', '{"x":1,"y":2}');
    expect(plotter.plotted).toEqual(['1,2 from points']);
  });

  it('messageListener({ topic: typedTopic }, fn) marks a function that gets the payload', async () => {
    const points = defineTopic('points', pointSchema());
    const seen: Point[] = [];
    const listener = messageListener({ topic: points }, (point: Point) => void seen.push(point));
    const broker = new RecordingBroker();
    await registerListeners(broker, listener);
    await broker.deliver('points', '{"x":3,"y":4}');
    expect(seen).toEqual([{ x: 3, y: 4 }]);
  });
});
