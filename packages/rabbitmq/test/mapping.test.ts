import { describe, expect, it } from '@jest/globals';
import { createMessage, InvalidArgumentError } from '@msgport/core';
import {
  fromAmqpDelivery,
  headerValueToString,
  KEY_HEADER,
  PARTITION_HEADER,
  toAmqpPublish,
  type AmqpDelivery,
} from '../src/internal/mapping.js';
import { redactUrl, scrub, secretsOf } from '../src/internal/redact.js';
import { deadLetterExchangeName, deadLetterName, legacyGroupQueueName } from '../src/internal/topology.js';
import { isAccessRefused, safeText, tlsFailure, tooLargeReport } from '../src/internal/amqp-errors.js';

function delivery(init: Partial<AmqpDelivery['properties']> & { content?: Buffer; redelivered?: boolean }): AmqpDelivery {
  return {
    content: init.content ?? Buffer.from('v'),
    fields: { redelivered: init.redelivered ?? false },
    properties: { headers: init.headers, timestamp: init.timestamp },
  };
}

/** What amqplib hands back after encoding `publish` headers: strings stay strings. */
function roundTrip(message: ReturnType<typeof createMessage>): ReturnType<typeof createMessage> {
  const amqp = toAmqpPublish(message, null, 1_700_000_000_123);
  return fromAmqpDelivery(
    {
      content: amqp.content,
      fields: { redelivered: false },
      properties: { headers: { ...amqp.options.headers }, timestamp: amqp.options.timestamp },
    },
    message.topic,
  );
}

describe('toAmqpPublish()', () => {
  it('routes by topic, marks the message persistent and stamps it in seconds', () => {
    const amqp = toAmqpPublish(createMessage({ topic: 'orders', value: 'v' }), null, 1_700_000_000_999);
    expect(amqp.routingKey).toBe('orders');
    expect(amqp.options.persistent).toBe(true);
    expect(amqp.options.timestamp).toBe(1_700_000_000);
    expect(amqp.content.toString()).toBe('v');
  });

  it('carries the key base64-encoded in the reserved header and leaves it out for a null key', () => {
    const withKey = toAmqpPublish(createMessage({ topic: 't', value: 'v', key: Buffer.from([0, 255, 10]) }));
    expect(withKey.options.headers?.[KEY_HEADER]).toBe(Buffer.from([0, 255, 10]).toString('base64'));
    const withoutKey = toAmqpPublish(createMessage({ topic: 't', value: 'v', headers: { a: 'b' } }));
    expect(withoutKey.options.headers).toEqual({ a: 'b' });
    expect(KEY_HEADER in withoutKey.options.headers!).toBe(false);
  });

  it('leaves the headers out for a message without key or headers, and keeps the timestamp', () => {
    const amqp = toAmqpPublish(createMessage({ topic: 't', value: 'v' }), null, 1_700_000_000_999);
    expect(amqp.options).toEqual({ persistent: true, timestamp: 1_700_000_000 });
    expect('headers' in amqp.options).toBe(false);
  });

  it('keeps an empty key distinct from no key', () => {
    const amqp = toAmqpPublish(createMessage({ topic: 't', value: 'v', key: '' }));
    expect(amqp.options.headers).toEqual({ [KEY_HEADER]: '' });
  });

  it('copies application headers as strings', () => {
    const amqp = toAmqpPublish(createMessage({ topic: 't', value: 'v', headers: { a: 'Grüße 🚀', b: '' } }));
    expect(amqp.options.headers).toEqual({ a: 'Grüße 🚀', b: '' });
  });

  it('rejects a header name longer than AMQP can encode with INVALID_ARGUMENT', () => {
    const message = createMessage({ topic: 't', value: 'v', headers: { ['n'.repeat(256)]: 'x' } });
    expect(() => toAmqpPublish(message)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('the partition header', () => {
  it('carries the partition the publisher chose as a decimal string, and nothing when there is none', () => {
    const message = createMessage({ topic: 't', value: 'v', key: 'k' });
    expect(toAmqpPublish(message, 3).options.headers?.[PARTITION_HEADER]).toBe('3');
    expect(toAmqpPublish(createMessage({ topic: 't', value: 'v' }), 0).options.headers).toEqual({ [PARTITION_HEADER]: '0' });
    expect(toAmqpPublish(createMessage({ topic: 't', value: 'v' })).options.headers).toBeUndefined();
  });

  it('is reserved: an application header of that name is refused on publish and never reaches headers on receipt', () => {
    const spoofed = createMessage({ topic: 't', value: 'v', headers: { [PARTITION_HEADER]: 'spoofed', a: 'b' } });
    expect(() => toAmqpPublish(spoofed, 1)).toThrow(InvalidArgumentError);
    const message = createMessage({ topic: 't', value: 'v', headers: { a: 'b' } });
    expect(toAmqpPublish(message, 1).options.headers).toEqual({ a: 'b', [PARTITION_HEADER]: '1' });
    const received = fromAmqpDelivery(delivery({ headers: { [PARTITION_HEADER]: '2', a: 'b' } }), 't', 2);
    expect({ ...received.headers }).toEqual({ a: 'b' });
    expect(received.metadata.partition).toBe(2);
    expect('partition' in fromAmqpDelivery(delivery({}), 't').metadata).toBe(false);
  });
});

describe('fromAmqpDelivery()', () => {
  it('round-trips any key bytes, null keys, empty keys and Unicode headers', () => {
    const key = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const headers = { 'x-a': 'plain', 'x-b': '日本語 Ελληνικά 👩‍💻', 'x-empty': '' };
    const message = roundTrip(createMessage({ topic: 'orders', value: Buffer.from([1, 2, 3]), key, headers }));
    expect(message.key!.equals(key)).toBe(true);
    expect({ ...message.headers }).toEqual(headers);
    expect([...message.value]).toEqual([1, 2, 3]);
    expect(roundTrip(createMessage({ topic: 'orders', value: 'v' })).key).toBeNull();
    expect(roundTrip(createMessage({ topic: 'orders', value: 'v', key: '' })).key).toEqual(Buffer.alloc(0));
  });

  it('round-trips a message without key or headers, with or without an (empty) headers table', () => {
    const amqp = toAmqpPublish(createMessage({ topic: 'orders', value: 'v' }), null, 1_700_000_000_123);
    for (const headers of [undefined, {}]) {
      const message = fromAmqpDelivery(
        { content: amqp.content, fields: { redelivered: false }, properties: { headers, timestamp: amqp.options.timestamp } },
        'orders',
      );
      expect(message.key).toBeNull();
      expect({ ...message.headers }).toEqual({});
      expect(message.metadata.timestamp).toBe(1_700_000_000_000);
    }
  });

  it('uses the subscribed topic and never exposes the key header among the headers', () => {
    const message = fromAmqpDelivery(
      delivery({ headers: { [KEY_HEADER]: Buffer.from('k').toString('base64'), a: 'b' } }),
      'orders',
    );
    expect(message.topic).toBe('orders');
    expect(message.key!.toString()).toBe('k');
    expect({ ...message.headers }).toEqual({ a: 'b' });
  });

  it('reports the redelivered flag and the broker timestamp in milliseconds as metadata, not headers', () => {
    const message = fromAmqpDelivery(delivery({ redelivered: true, timestamp: 1_700_000_000 }), 't');
    expect(message.metadata).toMatchObject({ redelivered: true, timestamp: 1_700_000_000_000 });
    expect({ ...message.headers }).toEqual({});
    const plain = fromAmqpDelivery(delivery({}), 't').metadata;
    expect(plain.redelivered).toBe(false);
    expect('timestamp' in plain).toBe(false);
  });

  it('returns frozen messages with frozen headers and metadata', () => {
    const message = fromAmqpDelivery(delivery({ headers: { a: 'b' } }), 't');
    expect(Object.isFrozen(message)).toBe(true);
    expect(Object.isFrozen(message.headers)).toBe(true);
    expect(Object.isFrozen(message.metadata)).toBe(true);
  });

  it('decodes header values of foreign producers to strings (C8)', () => {
    const message = fromAmqpDelivery(
      delivery({
        headers: {
          utf8Bytes: Buffer.from('Grüße', 'utf8'),
          binary: Buffer.from([0xff, 0xfe, 0x00, 0x41]),
          int: 42,
          float: 1.5,
          bool: true,
          nothing: null,
          stamp: { '!': 'timestamp', value: 1_700_000_000 },
          decimal: { '!': 'decimal', value: { places: 2, digits: 5 } },
          list: ['a', 1, Buffer.from([0xc3, 0x28])],
          '': 'empty name is dropped',
        },
      }),
      't',
    );
    expect({ ...message.headers }).toEqual({
      utf8Bytes: 'Grüße',
      binary: 'fffe0041',
      int: '42',
      float: '1.5',
      bool: 'true',
      nothing: '',
      stamp: '1700000000',
      decimal: '0.05',
      list: '["a",1,"c328"]',
    });
  });

  it("decodes RabbitMQ's x-death header as JSON", () => {
    const xDeath = [
      {
        count: 1,
        reason: 'rejected',
        queue: 'q',
        time: { '!': 'timestamp', value: 1_700_000_000 },
        exchange: 'e',
        'routing-keys': ['t'],
      },
    ];
    const message = fromAmqpDelivery(delivery({ headers: { 'x-death': xDeath } }), 't');
    expect(JSON.parse(message.headers['x-death']!)).toEqual([
      { count: 1, reason: 'rejected', queue: 'q', time: 1_700_000_000, exchange: 'e', 'routing-keys': ['t'] },
    ]);
  });

  it('accepts a key header sent as raw bytes by a foreign producer', () => {
    const message = fromAmqpDelivery(delivery({ headers: { [KEY_HEADER]: Buffer.from([1, 2]) } }), 't');
    expect([...message.key!]).toEqual([1, 2]);
  });
});

describe('headerValueToString()', () => {
  it('keeps strings as they are and hex-encodes invalid UTF-8 in lowercase', () => {
    expect(headerValueToString('ok')).toBe('ok');
    expect(headerValueToString(new Uint8Array([0xab, 0xcd]))).toBe('abcd');
    expect(headerValueToString(10n)).toBe('10');
  });
});

describe('topology names', () => {
  it('names the earlier one-queue-per-group queue <topic>.<group> and the dead-letter queue <topic>.<group>.dlq', () => {
    expect(legacyGroupQueueName('orders', 'billing')).toBe('orders.billing');
    expect(deadLetterName('orders', 'billing')).toBe('orders.billing.dlq');
    expect(deadLetterName('orders', null)).toBe('orders.dlq');
    expect(deadLetterExchangeName('msgport')).toBe('msgport.dlx');
  });

  it('rejects names longer than RabbitMQ allows with INVALID_ARGUMENT', () => {
    expect(() => legacyGroupQueueName('t'.repeat(200), 'g'.repeat(60))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('redaction', () => {
  it('masks the password of a URL and keeps the rest', () => {
    expect(redactUrl('amqp://guest:s3cret@localhost:5672/vh')).toBe('amqp://guest:***@localhost:5672/vh');
    expect(redactUrl('amqp://localhost')).toBe('amqp://localhost');
    expect(redactUrl('not a url with p4ss')).toBe('<unparseable URL>');
  });

  it('finds the password as written, normalized and decoded, and scrubs every form', () => {
    const url = 'amqp://user:p%40ss:w0rd@host/';
    const secrets = secretsOf(url);
    expect(secrets).toEqual(expect.arrayContaining(['p%40ss:w0rd', 'p@ss:w0rd']));
    expect(scrub('failed for p@ss:w0rd and p%40ss:w0rd', secrets)).toBe('failed for *** and ***');
    expect(secretsOf('amqp://host/')).toEqual([]);
  });
});

describe('amqplib error classification', () => {
  it('recognizes refused logins and vhost access as access failures', () => {
    expect(
      isAccessRefused(
        new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"'),
      ),
    ).toBe(true);
    expect(isAccessRefused(new Error('Expected ConnectionOpenOk; got <ConnectionClose channel:0>'))).toBe(true);
    expect(isAccessRefused(new Error('connect ECONNREFUSED 127.0.0.1:5672'))).toBe(false);
  });

  it('reads the size report of a too-large message', () => {
    const error = new Error(
      'Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - message size 200 is larger than configured max size 100"',
    );
    expect(tooLargeReport(error)).toEqual({ size: 200, max: 100 });
    expect(tooLargeReport(new Error('channel closed'))).toBeNull();
  });

  /** An error as Node's tls module raises it: OpenSSL text in the message, `code`, `library`, `reason`. */
  function nodeError(message: string, fields: Record<string, string>): Error {
    return Object.assign(new Error(message), fields);
  }

  const WRONG_VERSION = nodeError(
    '801C2455667F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n',
    { code: 'ERR_SSL_WRONG_VERSION_NUMBER', library: 'SSL routines', reason: 'wrong version number' },
  );

  it('recognizes amqps:// to a plain AMQP port (OpenSSL "wrong version number") and reports it on one line', () => {
    expect(tlsFailure(WRONG_VERSION)).toBe('wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)');
    // Without Node's `reason` field, the reason is read from OpenSSL's text.
    const bare = new Error('40E7C0F8:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:ssl3_record.c:354:\n');
    expect(tlsFailure(bare)).toBe('wrong version number');
    expect(
      tlsFailure(nodeError('write EPROTO 40E7C0F8:error:0A00010B:SSL routines::wrong version number\n', { code: 'EPROTO' })),
    ).toBe('wrong version number (EPROTO)');
  });

  it('recognizes untrusted certificates and host name mismatches', () => {
    expect(tlsFailure(nodeError('unable to verify the first certificate', { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }))).toBe(
      'unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    );
    expect(tlsFailure(nodeError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }))).toBe(
      'self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)',
    );
    expect(
      tlsFailure(nodeError('self-signed certificate in certificate chain', { code: 'SELF_SIGNED_CERT_IN_CHAIN' })),
    ).not.toBeNull();
    expect(tlsFailure(nodeError('certificate has expired', { code: 'CERT_HAS_EXPIRED' }))).not.toBeNull();
    expect(
      tlsFailure(
        nodeError(
          "Hostname/IP does not match certificate's altnames: Host: rabbit.internal. is not in the cert's altnames: DNS:localhost",
          {
            code: 'ERR_TLS_CERT_ALTNAME_INVALID',
          },
        ),
      ),
    ).toBe(
      "Hostname/IP does not match certificate's altnames: Host: rabbit.internal. is not in the cert's altnames: DNS:localhost (ERR_TLS_CERT_ALTNAME_INVALID)",
    );
  });

  it('recognizes a TLS listener that hangs up during the handshake, and other OpenSSL failures', () => {
    expect(
      tlsFailure(
        nodeError('Client network socket disconnected before secure TLS connection was established', { code: 'ECONNRESET' }),
      ),
    ).toBe('Client network socket disconnected before secure TLS connection was established (ECONNRESET)');
    expect(tlsFailure(nodeError('sslv3 alert handshake failure', { code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }))).toBe(
      'sslv3 alert handshake failure (ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)',
    );
  });

  it('finds a TLS failure in a cause chain or an AggregateError', () => {
    expect(tlsFailure(new Error('connection failed', { cause: WRONG_VERSION }))).toBe(
      'wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)',
    );
    expect(tlsFailure(new AggregateError([new Error('connect ECONNREFUSED ::1:5671'), WRONG_VERSION], ''))).toBe(
      'wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)',
    );
    const loop: Error & { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    expect(tlsFailure(loop)).toBeNull();
  });

  it('leaves failures that retrying can cure alone: refused, reset, timed out, closed', () => {
    for (const error of [
      nodeError('connect ECONNREFUSED 127.0.0.1:5671', { code: 'ECONNREFUSED' }),
      nodeError('read ECONNRESET', { code: 'ECONNRESET' }),
      nodeError('getaddrinfo ENOTFOUND rabbit.internal', { code: 'ENOTFOUND' }),
      nodeError('Client network socket disconnected', { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }),
      new Error('connect ETIMEDOUT'),
      new Error('Socket closed abruptly during opening handshake'),
      new Error('Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused"'),
      'a string',
      null,
      undefined,
    ]) {
      expect(tlsFailure(error)).toBeNull();
    }
  });

  it('puts error texts on one line and masks secrets', () => {
    expect(safeText(WRONG_VERSION, [])).not.toContain('\n');
    expect(safeText(new Error('line one\n  line two\r\nfor p4ss\n'), ['p4ss'])).toBe('line one line two for ***');
  });
});
