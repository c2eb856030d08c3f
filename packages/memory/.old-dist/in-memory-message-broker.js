import { MessageBrokerBase, waitFor, } from '@msgport/core';
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
export class InMemoryMessageBroker extends MessageBrokerBase {
    // Copy-on-write: a topic's array is replaced, never changed, when a consumer opens or closes, so
    // send() walks the array it read without copying it, and a consumer opened by a handler during a
    // send does not receive that send's message.
    #consumers = new Map();
    #published = [];
    #recordPublished;
    constructor(options = {}) {
        super('memory', options);
        this.#recordPublished = options.recordPublished ?? true;
    }
    /** Every message published since creation or {@link clear}, in publish order (dead letters too). */
    get published() {
        return this.#published;
    }
    /** Messages published to `topic` so far. */
    publishedTo(topic) {
        return this.#published.filter((message) => message.topic === topic);
    }
    /** Forgets the record of published messages. */
    clear() {
        this.#published.length = 0;
    }
    /**
     * Waits until at least `count` messages were published to `topic`, and returns them.
     * @throws {MessagingError} code `WAIT_TIMEOUT` after `timeoutMs` (default 5000).
     */
    async waitForMessages(topic, count = 1, options = {}) {
        return waitFor(() => {
            const messages = this.publishedTo(topic);
            return messages.length >= count ? messages : undefined;
        }, { description: `${count} message(s) on "${topic}"`, ...options });
    }
    /**
     * Waits until a message matching `predicate` was published (to `topic`, when given), and returns it.
     * @throws {MessagingError} code `WAIT_TIMEOUT` after `timeoutMs` (default 5000).
     */
    async waitForMessage(predicate, options = {}) {
        return waitFor(() => this.#published.find((message) => (options.topic === undefined || message.topic === options.topic) && predicate(message)), { description: `a matching message${options.topic === undefined ? '' : ` on "${options.topic}"`}`, ...options });
    }
    async connect() { }
    async disconnect() { }
    send(message) {
        if (this.#recordPublished)
            this.#published.push(message);
        const targets = this.#consumers.get(message.topic);
        if (targets === undefined || targets.length === 0)
            return Promise.resolve();
        const first = targets[0](message);
        if (targets.length === 1)
            return first;
        // Core returns one shared, already resolved promise for every delivery that completed
        // synchronously, and a promise that is the same object needs waiting for only once: with
        // synchronous handlers, a publish to several consumers waits for nothing more.
        let pending = null;
        for (let i = 1; i < targets.length; i++) {
            const delivered = targets[i](message);
            if (delivered !== first)
                (pending ??= [first]).push(delivered);
        }
        return pending === null ? first : Promise.all(pending).then(() => undefined);
    }
    async openConsumer(spec, deliver) {
        this.#consumers.set(spec.topic, [...(this.#consumers.get(spec.topic) ?? []), deliver]);
        return {
            close: async () => {
                const targets = this.#consumers.get(spec.topic) ?? [];
                const remaining = targets.filter((target) => target !== deliver);
                if (remaining.length === 0)
                    this.#consumers.delete(spec.topic);
                else
                    this.#consumers.set(spec.topic, remaining);
            },
        };
    }
}
//# sourceMappingURL=in-memory-message-broker.js.map