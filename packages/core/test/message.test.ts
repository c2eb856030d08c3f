import { describe, expect, it } from '@jest/globals';
import { InvalidArgumentError, createMessage, type Payload } from '@msgport/core';
import { withMetadata } from '@msgport/core/adapter';

describe('createMessage()', () => {
  it('returns a frozen message whose headers and metadata are frozen too', () => {
    const message = createMessage({ topic: 'orders', value: 'v', headers: { a: 'b' }, metadata: { attempt: 2 } });
    expect(Object.isFrozen(message)).toBe(true);
    expect(Object.isFrozen(message.headers)).toBe(true);
    expect(Object.isFrozen(message.metadata)).toBe(true);
    expect(() => {
      (message.headers as Record<string, string>)['a'] = 'changed';
    }).toThrow(TypeError);
    expect(message.headers).toEqual({ a: 'b' });
  });

  it('copies the headers and metadata objects, so later changes to them do not leak in', () => {
    const headers: Record<string, string> = { a: 'b' };
    const metadata = { attempt: 1 };
    const message = createMessage({ topic: 't', value: 'v', headers, metadata });
    headers['a'] = 'changed';
    headers['added'] = 'x';
    metadata.attempt = 9;
    expect(message.headers).toEqual({ a: 'b' });
    expect(message.metadata).toEqual({ attempt: 1 });
  });

  it('defaults to no key, empty frozen headers and first-attempt frozen metadata', () => {
    const message = createMessage({ topic: 't', value: 'v' });
    expect(message.key).toBeNull();
    expect(message.headers).toEqual({});
    expect(message.metadata).toEqual({ attempt: 1 });
    expect(Object.isFrozen(message.headers)).toBe(true);
    expect(createMessage({ topic: 't', value: 'v', key: null }).key).toBeNull();
  });

  it('encodes string values and keys as UTF-8 Buffers', () => {
    const message = createMessage({ topic: 't', value: 'héllo 🌍', key: 'clé' });
    expect(Buffer.isBuffer(message.value)).toBe(true);
    expect(message.value.equals(Buffer.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f, 0x20, 0xf0, 0x9f, 0x8c, 0x8d]))).toBe(true);
    expect(Buffer.isBuffer(message.key)).toBe(true);
    expect(message.key!.equals(Buffer.from([0x63, 0x6c, 0xc3, 0xa9]))).toBe(true);
  });

  it('keeps a Buffer as it is', () => {
    const value = Buffer.from([1, 2, 3]);
    expect(createMessage({ topic: 't', value }).value).toBe(value);
  });

  it('copies exactly the bytes of a Uint8Array view, honouring byteOffset and byteLength', () => {
    const backing = new Uint8Array([10, 11, 12, 13, 14, 15, 16, 17]);
    const view = backing.subarray(2, 5);
    const keyView = new Uint8Array(backing.buffer, 6, 2);
    const message = createMessage({ topic: 't', value: view, key: keyView });

    expect(Buffer.isBuffer(message.value)).toBe(true);
    expect([...message.value]).toEqual([12, 13, 14]);
    expect([...message.key!]).toEqual([16, 17]);

    backing.fill(0);
    expect([...message.value]).toEqual([12, 13, 14]);
    expect([...message.key!]).toEqual([16, 17]);
  });

  it('accepts an empty value', () => {
    expect(createMessage({ topic: 't', value: '' }).value.length).toBe(0);
    expect(createMessage({ topic: 't', value: new Uint8Array(0) }).value.length).toBe(0);
  });

  it('rejects a value or key that is neither a string nor bytes, naming the topic and the fix', () => {
    expect(() => createMessage({ topic: 'orders', value: 42 as unknown as Payload })).toThrow(
      new InvalidArgumentError(
        'Cannot publish to "orders": the value must be a string or a Uint8Array/Buffer, got a number. ' +
          'Serialize it first, e.g. JSON.stringify(value).',
      ),
    );
    expect(() => createMessage({ topic: 'orders', value: { id: 1 } as unknown as Payload })).toThrow(
      /the value must be a string or a Uint8Array\/Buffer, got an object \(Object\)/,
    );
    expect(() => createMessage({ topic: 'orders', value: 'v', key: [1] as unknown as Payload })).toThrow(
      /the key must be a string or a Uint8Array\/Buffer, got an array/,
    );
    expect(() => createMessage({ topic: 'orders', value: new ArrayBuffer(2) as unknown as Payload })).toThrow(
      InvalidArgumentError,
    );
  });

  it('rejects headers that are not an object of strings, or an empty header name', () => {
    const withHeaders = (headers: unknown) => () =>
      createMessage({ topic: 'orders', value: 'v', headers: headers as Record<string, string> });
    expect(withHeaders({ count: 1 })).toThrow(
      'Cannot publish to "orders": header "count" must be a string, got a number. Convert it with String(value) or JSON.stringify(value).',
    );
    expect(withHeaders(['a'])).toThrow(
      'Cannot publish to "orders": headers must be a plain object of string values, got an array.',
    );
    expect(withHeaders(null)).toThrow(/headers must be a plain object of string values, got null/);
    expect(withHeaders({ '': 'x' })).toThrow('Cannot publish to "orders": header names must not be empty.');
    expect(withHeaders({ a: undefined })).toThrow(/header "a" must be a string, got undefined/);
  });

  it('throws InvalidArgumentError with code INVALID_ARGUMENT', () => {
    let caught: unknown;
    try {
      createMessage({ topic: 't', value: 1 as unknown as Payload });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT', retriable: false, name: 'InvalidArgumentError' });
  });
});

describe('withMetadata()', () => {
  it('returns a frozen copy with merged metadata and leaves the original untouched', () => {
    const original = createMessage({ topic: 't', value: 'v', metadata: { partition: 3, offset: '42' } });
    const copy = withMetadata(original, { attempt: 2 });
    expect(copy).not.toBe(original);
    expect(copy.metadata).toEqual({ partition: 3, offset: '42', attempt: 2 });
    expect(original.metadata).toEqual({ attempt: 1, partition: 3, offset: '42' });
    expect(Object.isFrozen(copy)).toBe(true);
    expect(Object.isFrozen(copy.metadata)).toBe(true);
    expect(copy.value).toBe(original.value);
    expect(copy.headers).toBe(original.headers);
  });
});
