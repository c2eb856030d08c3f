import { afterAll, describe, expect, it } from '@jest/globals';
import { ensureClusterUp, killNode, NODES, partitions, restartNode, waitForFullIsr, type NodeId } from './support/cluster.js';
import { ClusterScenario, MIN_INSYNC_REPLICAS, recordFigures } from './support/cluster-scenario.js';
import { until } from '../reliability/support/until.js';

// Scenario 4 (issue 11): two of the three brokers down. Fewer replicas are alive than
// min.insync.replicas (2), so no publish can be acknowledged: each one rejects once
// publishTimeoutMs has passed, with PUBLISH_TIMEOUT (retriable), and nothing is reported as
// published that is not stored (every confirmed id is handled in the end). When one broker
// comes back, publishes resolve again and the consumers go on, without any process restarting.
//
// With three combined broker+controller nodes, two down also means no controller quorum: the
// survivor cannot shrink its in-sync replica sets, so its acks=all produce requests wait rather
// than fail with NOT_ENOUGH_REPLICAS; either way the adapter retries until publishTimeoutMs.

const RATE = 100;
const PUBLISH_TIMEOUT_MS = 10_000;
/** A rejection may come this much later than publishTimeoutMs (timers on a busy machine). */
const LATE_TOLERANCE_MS = 2_000;
const KILL_AFTER_CONFIRMS = 1_000;

describe('kafka cluster: two brokers down', () => {
  afterAll(async () => {
    await ensureClusterUp();
  }, 300_000);

  it('publishes reject with PUBLISH_TIMEOUT within publishTimeoutMs, nothing confirmed is lost, and service resumes when one broker is back', async () => {
    const s = new ClusterScenario('two-down');
    let passed = false;
    try {
      await s.startGroup();
      const producer = await s.producer({ concurrency: 50, ratePerSec: RATE }, { publishTimeoutMs: PUBLISH_TIMEOUT_MS });
      await s.untilConfirmed(KILL_AFTER_CONFIRMS);

      // The leader of the busiest partition and the next node go; the third survives.
      const busiest = [...s.handledPerPartition()].sort((x, y) => y[1] - x[1])[0]![0];
      const first = (await partitions(s.topic)).find((state) => state.partition === busiest)!.leader as NodeId;
      const second = NODES[NODES.indexOf(first) === NODES.length - 1 ? 0 : NODES.indexOf(first) + 1]!;
      const survivor = NODES.find((node) => node !== first && node !== second)!;

      let downAt = 0;
      let firstBackAt = 0;
      let restartBeganAt = 0;
      let rejectedWhileDown = 0;
      let firstIsBack = false;
      try {
        await killNode(first);
        await killNode(second);
        downAt = Date.now();
        // Long enough for publishes issued after both kills to reach their deadline.
        await until(
          () =>
            s.publishMs.some((p) => !p.ok && p.at - p.ms >= downAt) &&
            Date.now() >= downAt + PUBLISH_TIMEOUT_MS + LATE_TOLERANCE_MS,
          { timeoutMs: PUBLISH_TIMEOUT_MS * 4, what: () => `a publish issued after both kills to reject\n${s.logs()}` },
        );
        rejectedWhileDown = s.ledger.rejected.size;
        restartBeganAt = Date.now();
        await restartNode(first);
        firstBackAt = Date.now();
        firstIsBack = true;
      } finally {
        // On the way through, the second one is restarted below, once service resumed without it.
        if (!firstIsBack) await ensureClusterUp();
      }
      // Service resumes with one of the two back (two replicas alive again: min.insync.replicas).
      await until(
        () => s.publishMs.some((p) => p.ok && p.at > firstBackAt) && s.ledger.handlings.some((h) => h.at > firstBackAt),
        {
          timeoutMs: 120_000,
          what: () => `a publish to resolve and a message to be handled with node ${first} back\n${s.logs()}`,
        },
      ).catch(() => undefined); // asserted below, after the figures are recorded
      const firstConfirmAfter = s.publishMs.find((p) => p.ok && p.at > firstBackAt)?.at ?? null;
      const firstHandleAfter = s.ledger.handlings.find((h) => h.at > firstBackAt)?.at ?? null;
      const confirmedBeforeSecond = s.ledger.confirmed.size;
      await restartNode(second);
      const isrMs = await waitForFullIsr([s.topic, '__consumer_offsets'], 120_000);

      const end = await s.finish(producer, { stopProducer: true });
      const rejections = [...s.ledger.rejected.values()];
      const latencies = s.publishMs.filter((p) => !p.ok).map((p) => p.ms);
      // Publishes issued after both kills that resolved before a broker was started again: must be none.
      const confirmedDuringOutage = s.publishMs.filter((p) => p.ok && p.at - p.ms >= downAt && p.at <= restartBeganAt).length;
      const recoveredAt =
        firstConfirmAfter === null || firstHandleAfter === null ? null : Math.max(firstConfirmAfter, firstHandleAfter);
      recordFigures({
        scenario: '4. Two brokers down (SIGKILL), then back one at a time',
        sent: end.sent,
        confirmed: s.ledger.confirmed.size,
        rejected: s.ledger.rejected.size,
        received: s.ledger.received,
        lost: end.lost.length,
        duplicates: s.ledger.duplicates,
        recoverMs: recoveredAt === null ? null : recoveredAt - firstBackAt,
        maxPublishMs: s.maxPublishMs(),
        appRestarts: end.appRestarts,
        durationMs: end.drainedAt - s.startedAt,
        notes:
          `publishes at ${RATE}/s (50 in flight, publishTimeoutMs ${PUBLISH_TIMEOUT_MS}), 2 consumer processes; nodes ${first} and ${second} ` +
          `SIGKILLed after ${KILL_AFTER_CONFIRMS} confirms (node ${survivor} alone: fewer than min.insync.replicas ${MIN_INSYNC_REPLICAS}); ` +
          `${rejectedWhileDown} publishes rejected while both were down (${s.rejectionSummary()} in all), after ${Math.min(...latencies)}–${Math.max(...latencies)} ms; ` +
          `publishes issued after the kills that resolved before a node was started again: ${confirmedDuringOutage}; ${s.ledger.rejectedButDelivered} rejected publishes were stored and delivered anyway (allowed); ` +
          `node ${first} back ${firstBackAt - downAt} ms after the kills; recover = node ${first} serving → a publish resolves and a message is handled ` +
          `(first confirm +${firstConfirmAfter === null ? '–' : firstConfirmAfter - firstBackAt} ms, first handled +${firstHandleAfter === null ? '–' : firstHandleAfter - firstBackAt} ms); ` +
          `${s.ledger.confirmed.size - confirmedBeforeSecond} confirms after node ${second} was restarted too (replicas in sync ${isrMs} ms after); no process restarted`,
      });

      expect(s.crashes()).toEqual([]);
      expect(end.appRestarts).toBe(0);
      expect(end.lost).toEqual([]);
      expect(s.ledger.confirmed.size + s.ledger.rejected.size).toBe(end.sent);
      expect(rejectedWhileDown).toBeGreaterThan(0);
      expect(confirmedDuringOutage).toBe(0);
      for (const event of rejections) expect(event).toMatchObject({ code: 'PUBLISH_TIMEOUT', retriable: true, messaging: true });
      for (const ms of latencies) {
        expect(ms).toBeGreaterThanOrEqual(PUBLISH_TIMEOUT_MS - 50);
        expect(ms).toBeLessThanOrEqual(PUBLISH_TIMEOUT_MS + LATE_TOLERANCE_MS);
      }
      expect(recoveredAt).not.toBeNull();
      for (const exit of end.exits) expect(exit).toMatchObject({ code: 0 });
      passed = true;
    } finally {
      await s.cleanup(passed);
    }
  }, 600_000);
});
