import { MessageBrokerBase, type ConsumerHandle, type ConsumerSpec, type Deliver, type Message, type MessageBrokerBaseOptions, type WaitForOptions } from '@msgport/core';
/** Options of {@link InMemoryMessageBroker}. */
export interface InMemoryMessageBrokerOptions extends MessageBrokerBaseOptions {
    /**
     * Keep every published message (dead letters included) for {@link InMemoryMessageBroker.published}.
     * Turn off for long-running processes.
     * @default true
     */
    readonly recordPublished?: boolean;
}
/**
 * The msgport port in one process, with no infrastructure: for tests, demos and local runs.
 *
 * - `await publish()` resolves after every target handler (retries and dead-lettering included)
 *   has settled, so tests are deterministic.
 * - Round-robin within a group in exact alternation; broadcast without a group; a copy per group.
 * - Failed messages go to `<topic>.DLT` with the `msgport-error-*` headers.
 *
 * Messages are not persisted: what is published while nobody is subscribed is gone (except from
 * {@link published}). Publishing from a handler to the topic and group it is handling, and
 * awaiting that publish, waits for itself: don't await it.
 */
export declare class InMemoryMessageBroker extends MessageBrokerBase {
    #private;
    constructor(options?: InMemoryMessageBrokerOptions);
    /** Every message published since creation or {@link clear}, in publish order (dead letters too). */
    get published(): readonly Message[];
    /** Messages published to `topic` so far. */
    publishedTo(topic: string): Message[];
    /** Forgets the record of published messages. */
    clear(): void;
    /**
     * Waits until at least `count` messages were published to `topic`, and returns them.
     * @throws {MessagingError} code `WAIT_TIMEOUT` after `timeoutMs` (default 5000).
     */
    waitForMessages(topic: string, count?: number, options?: WaitForOptions): Promise<Message[]>;
    /**
     * Waits until a message matching `predicate` was published (to `topic`, when given), and returns it.
     * @throws {MessagingError} code `WAIT_TIMEOUT` after `timeoutMs` (default 5000).
     */
    waitForMessage(predicate: (message: Message) => boolean, options?: WaitForOptions & {
        readonly topic?: string;
    }): Promise<Message>;
    protected connect(): Promise<void>;
    protected disconnect(): Promise<void>;
    protected send(message: Message): Promise<void>;
    protected openConsumer(spec: ConsumerSpec, deliver: Deliver): Promise<ConsumerHandle>;
}
//# sourceMappingURL=in-memory-message-broker.d.ts.map