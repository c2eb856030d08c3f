/**
 * The SASL mechanisms msgport's Kafka support accepts, stated once: the Kafka adapter validates
 * its `sasl.mechanism` option against it and `@msgport/autoconfig` builds its schema from it (the
 * configuration package cannot import an optional adapter at run time).
 */
export const SASL_MECHANISMS = Object.freeze(['plain', 'scram-sha-256', 'scram-sha-512'] as const);

/** One of {@link SASL_MECHANISMS}. */
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];
