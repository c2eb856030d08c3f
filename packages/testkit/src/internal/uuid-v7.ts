/** A UUID version 7 in lowercase (RFC 9562), as `msgport-message-id` carries it. */
export const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
