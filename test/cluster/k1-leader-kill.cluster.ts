import { afterAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureClusterUp, killNode, partitions, restartNode, waitForFullIsr, type NodeId } from './support/cluster.js';
import { ClusterScenario, recordFigures, SHUTDOWN_TIMEOUT_MS } from './support/cluster-scenario.js';

// Scenario 1 (issue 11): SIGKILL the leader of the busiest partition in the middle of the
// publishes, with a group of two consumer processes running; restart it 10 s later. Every publish
// that resolved is handled; no application process restarts.

const SENT = 20_000;
const RATE = 1_000;
const KILL_AFTER_CONFIRMS = 5_000;
const RESTART_AFTER_MS = 10_000;

describe('kafka cluster: leader of the busiest partition SIGKILLed mid-stream', () => {
  afterAll(async () => {
    await ensureClusterUp();
  }, 300_000);

  it('every confirmed publish is handled; producer and consumers ride out the leader change', async () => {
    const s = new ClusterScenario('leader-kill');
    let passed = false;
    try {
      const [a, b] = await s.startGroup();

      const producer = await s.producer({ count: SENT, concurrency: 50, ratePerSec: RATE });
      await s.untilConfirmed(KILL_AFTER_CONFIRMS);

      // The busiest partition so far, and the broker leading it.
      const busiest = [...s.handledPerPartition()].sort((x, y) => y[1] - x[1])[0]![0];
      const before = await partitions(s.topic);
      const victim = before.find((state) => state.partition === busiest)!.leader as NodeId;
      const led = before.filter((state) => state.leader === victim).map((state) => state.partition);

      const killAt = Date.now();
      let restartedAt: number;
      try {
        await killNode(victim);
        await sleep(Math.max(0, killAt + RESTART_AFTER_MS - Date.now())); // the scenario's timing, not a wait for a condition
        await restartNode(victim);
        restartedAt = Date.now();
      } finally {
        await ensureClusterUp();
      }
      const after = await partitions(s.topic);
      const isrMs = await waitForFullIsr([s.topic, '__consumer_offsets'], 120_000);
      const inSyncAt = Date.now();

      const end = await s.finish(producer, { stopProducer: false });
      const maxPublish = s.maxPublishMs();
      const stall = s.maxPublishMs(killAt - 1_000, restartedAt);
      const consumeGap = s.maxConsumeGapMs(killAt, led);
      recordFigures({
        scenario: '1. SIGKILL the leader of the busiest partition, restart 10 s later',
        sent: end.sent,
        confirmed: s.ledger.confirmed.size,
        rejected: s.ledger.rejected.size,
        received: s.ledger.received,
        lost: end.lost.length,
        duplicates: s.ledger.duplicates,
        recoverMs: Math.max(stall, consumeGap),
        maxPublishMs: maxPublish,
        appRestarts: end.appRestarts,
        durationMs: end.drainedAt - s.startedAt,
        notes:
          `${SENT} publishes at ${RATE}/s (50 in flight), 2 consumer processes; node ${victim} (leader of busiest partition ${busiest} ` +
          `and of partitions ${led.join(',')}) SIGKILLed after ${KILL_AFTER_CONFIRMS} confirms, restarted after ${RESTART_AFTER_MS} ms ` +
          `(serving again ${restartedAt - killAt} ms after the kill), its replicas back in sync ${isrMs} ms later; leaders after the kill: ` +
          `${after.map((state) => `${state.partition}→${state.leader}`).join(' ')}; ` +
          `recover = longest publish stall around the kill (${stall} ms) or longest pause in handling its partitions (${consumeGap} ms); ` +
          `rejected: ${s.rejectionSummary()}; no process restarted`,
      });

      expect(s.crashes()).toEqual([]);
      expect(end.appRestarts).toBe(0);
      expect(end.lost).toEqual([]);
      expect(s.ledger.confirmed.size + s.ledger.rejected.size).toBe(end.sent);
      expect(s.ledger.rejected.size).toBe(0); // a leader change is ridden out within publishTimeoutMs
      expect(inSyncAt).toBeGreaterThan(restartedAt);
      for (const exit of end.exits) expect(exit).toMatchObject({ code: 0 });
      for (const app of [a!, b!]) expect(Number(app.find('stopped')?.['ms'])).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
      passed = true;
    } finally {
      await s.cleanup(passed);
    }
  }, 420_000);
});
