/** Prefix of the line a child prints its measurement on (the last line of its stdout). */
export const RESULT_MARKER = '@@msgport-bench-result@@';
