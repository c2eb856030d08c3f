import type { ConnectionOptions } from 'node:tls';
import type { MessageBrokerBaseOptions, SaslMechanism } from '@msgport/core/adapter';

/** SASL credentials. The password never appears in an error, a log line or `health()`. */
export interface KafkaSaslOptions {
  readonly mechanism: SaslMechanism;
  readonly username: string;
  readonly password: string;
}

/** Options of {@link KafkaAdapter}. */
export interface KafkaAdapterOptions extends MessageBrokerBaseOptions {
  /** Bootstrap brokers: `'h1:9092,h2:9092'` or `['h1:9092', 'h2:9092']`. Required. */
  readonly bootstrapServers: string | readonly string[];
  /** Client id sent to the brokers (shows in broker logs and quotas). @default 'msgport' */
  readonly clientId?: string;
  /** TLS: `true` for the system CAs, or Node `tls.connect` options (ca, cert, key …). @default false */
  readonly ssl?: boolean | ConnectionOptions;
  /** SASL authentication. @default none */
  readonly sasl?: KafkaSaslOptions;
  /** Partitions of the topics the adapter creates (including `<topic>.DLT`). @default 1 */
  readonly numPartitions?: number;
  /** Replication factor of the topics the adapter creates (including `<topic>.DLT`). @default 1 */
  readonly replicationFactor?: number;
  /**
   * Topic config `min.insync.replicas` of the topics the adapter creates (including
   * `<topic>.DLT`): how many replicas must have a message before `publish()` resolves (it always
   * asks for `acks: -1`). With fewer in sync, publishes are retried until `publishTimeoutMs` and
   * then reject with `PUBLISH_TIMEOUT`: nothing resolves that fewer replicas hold. At most
   * `replicationFactor`; production clusters use replication 3 with 2. Topics that already exist
   * keep their own config.
   * @default the broker's `min.insync.replicas` (1 unless configured)
   */
  readonly minInsyncReplicas?: number;
  /**
   * Where a group that has no committed offset yet starts: `false` at the end of the topic (only
   * messages published after `subscribe()` resolved), `true` at its beginning. Groups that have
   * committed offsets always resume there. Broadcast subscriptions always start at the end.
   * @default false
   */
  readonly fromBeginning?: boolean;
  /**
   * How the partitions of a group are shared among its members, in order of preference, by the
   * protocol names every Kafka client uses: `'roundrobin'` (Java's `RoundRobinAssignor`: all
   * partitions of all topics dealt in turn, evenly spread even with many single-partition topics)
   * and `'range'` (Java's `RangeAssignor`: consecutive partitions of each topic). Both give a
   * partition only to members subscribed to its topic, so members of one group may subscribe to
   * different topics (a rolling deploy that adds a topic). The group uses a strategy every member
   * supports; members running Java, librdkafka or aiokafka clients can share the group.
   * @default ['roundrobin', 'range']
   */
  readonly partitionAssigners?: readonly ('roundrobin' | 'range')[];
  /**
   * Bound of `start()`: reaching and authenticating with the brokers. Also how long `subscribe()`
   * tries again, with backoff, while creating its topic or joining its group fails for a retriable
   * reason (a topic a broker does not know yet, no coordinator yet, brokers unreachable).
   * @default 10000
   */
  readonly connectionTimeoutMs?: number;
  /** Bound of one request to a broker (a produce request waits this long for `acks: -1`). @default 30000 */
  readonly requestTimeoutMs?: number;
  /**
   * How long `publish()` may wait during an outage (brokers unreachable, no partition leader, a
   * topic that cannot be created yet) before it rejects with a retriable `PublishError`, code
   * `PUBLISH_TIMEOUT`. Until then a produce request that fails for a retriable reason is sent
   * again, with backoff (100 ms doubling to 1 s), so that a publish rides out a broker restart.
   * Counted from the call, for each publish on its own. `stop()` does not wait for it: publishes
   * still waiting for an outage to end are rejected when it disconnects.
   * @default 30000
   */
  readonly publishTimeoutMs?: number;
  /** A consumer that sends no heartbeat for this long leaves its group. @default 30000 */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat period of consumers; lower than `sessionTimeoutMs` (a third is usual). @default 3000 */
  readonly heartbeatIntervalMs?: number;
  /** How long the group waits for members to rejoin during a rebalance. @default 60000 */
  readonly rebalanceTimeoutMs?: number;
  /**
   * Longest wait of a fetch with no new message. Also how quickly an idle consumer notices a
   * rebalance and how long stopping an idle consumer takes.
   * @default 500
   */
  readonly fetchMaxWaitMs?: number;
  /** Most messages per produce request; concurrent publishes beyond it go in the next request. @default 1000 */
  readonly maxBatchSize?: number;
  /**
   * Most bytes of records per produce request, counted with an upper bound of each record's
   * encoded size. The default fills a request up to Kafka's default `message.max.bytes`
   * (1048588, less the 61-byte record batch header); lower it for a broker or topic with a lower
   * limit. A single larger message is still sent, alone.
   * @default 1048000
   */
  readonly maxBatchBytes?: number;
  /**
   * How long an idle producer waits for more messages before sending; 0 sends after one turn
   * of the event loop. Whatever is published while a request is in flight always goes into the next one.
   * @default 0
   */
  readonly lingerMs?: number;
}
