import { afterAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { until } from '../reliability/support/until.js';
import {
  coordinatorOf,
  ensureClusterUp,
  killNode,
  partitions,
  restartNode,
  waitForFullIsr,
  type NodeId,
} from './support/cluster.js';
import { ClusterScenario, recordFigures, SHUTDOWN_TIMEOUT_MS } from './support/cluster-scenario.js';

// Scenario 2 (issue 11): SIGKILL the broker that is the group coordinator of the consumers'
// group mid-stream (restarted 10 s later). The consumers find the new coordinator, rejoin and go
// on; every publish that resolved is handled; no application process restarts.

const SENT = 10_000;
const RATE = 500;
const KILL_AFTER_CONFIRMS = 3_000;
const RESTART_AFTER_MS = 10_000;

describe('kafka cluster: group coordinator SIGKILLed mid-stream', () => {
  afterAll(async () => {
    await ensureClusterUp();
  }, 300_000);

  it('the consumers move to the new coordinator and every confirmed publish is handled', async () => {
    const s = new ClusterScenario('coordinator-kill');
    let passed = false;
    try {
      const [a, b] = await s.startGroup();
      const producer = await s.producer({ count: SENT, concurrency: 50, ratePerSec: RATE });
      await s.untilConfirmed(KILL_AFTER_CONFIRMS);

      const victim = await coordinatorOf(s.group);
      const led = (await partitions(s.topic)).filter((state) => state.leader === victim).map((state) => state.partition);
      const killAt = Date.now();
      let restartedAt: number;
      let newCoordinator: NodeId = victim;
      let movedMs: number | null = null;
      try {
        await killNode(victim);
        // The cluster fences the dead broker and another one leads its __consumer_offsets partition.
        await until(
          async () => {
            newCoordinator = await coordinatorOf(s.group).catch(() => victim);
            return newCoordinator !== victim;
          },
          { timeoutMs: 60_000, intervalMs: 250, what: () => `the group coordinator to move off node ${victim}` },
        ).catch(() => undefined); // asserted below, after the figures are recorded
        if (newCoordinator !== victim) movedMs = Date.now() - killAt;
        await sleep(Math.max(0, killAt + RESTART_AFTER_MS - Date.now())); // the scenario's timing, not a wait for a condition
        await restartNode(victim);
        restartedAt = Date.now();
      } finally {
        await ensureClusterUp();
      }
      const isrMs = await waitForFullIsr([s.topic, '__consumer_offsets'], 120_000);

      const end = await s.finish(producer, { stopProducer: false });
      // The group's first handling after the kill of a message published after the kill.
      const issuedAt = new Map(s.publishMs.map((p) => [p.id, p.at - p.ms]));
      const firstFreshHandle = s.ledger.handlings.find((h) => h.at > killAt && (issuedAt.get(h.id) ?? 0) > killAt);
      const consumeGap = s.maxConsumeGapMs(killAt);
      const stall = s.maxPublishMs(killAt - 1_000, restartedAt);
      recordFigures({
        scenario: '2. SIGKILL the group coordinator mid-stream, restart 10 s later',
        sent: end.sent,
        confirmed: s.ledger.confirmed.size,
        rejected: s.ledger.rejected.size,
        received: s.ledger.received,
        lost: end.lost.length,
        duplicates: s.ledger.duplicates,
        recoverMs: consumeGap,
        maxPublishMs: s.maxPublishMs(),
        appRestarts: end.appRestarts,
        durationMs: end.drainedAt - s.startedAt,
        notes:
          `${SENT} publishes at ${RATE}/s (50 in flight), 2 consumer processes; node ${victim}, coordinator of the group (and leader of partitions ` +
          `${led.join(',') || 'none'}), SIGKILLed after ${KILL_AFTER_CONFIRMS} confirms; node ${newCoordinator} coordinator ${movedMs ?? '–'} ms after the kill; restarted after ` +
          `${RESTART_AFTER_MS} ms (serving again ${restartedAt - killAt} ms after the kill, replicas in sync ${isrMs} ms later); ` +
          `recover = longest pause in handling after the kill (${consumeGap} ms); first message published after the kill handled ` +
          `${firstFreshHandle === undefined ? '–' : firstFreshHandle.at - killAt} ms after the kill; longest publish stall ${stall} ms; ` +
          `rejected: ${s.rejectionSummary()}; no process restarted`,
      });

      expect(s.crashes()).toEqual([]);
      expect(end.appRestarts).toBe(0);
      expect(end.lost).toEqual([]);
      expect(s.ledger.confirmed.size + s.ledger.rejected.size).toBe(end.sent);
      expect(s.ledger.rejected.size).toBe(0);
      expect(newCoordinator).not.toBe(victim);
      for (const exit of end.exits) expect(exit).toMatchObject({ code: 0 });
      for (const app of [a!, b!]) expect(Number(app.find('stopped')?.['ms'])).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
      passed = true;
    } finally {
      await s.cleanup(passed);
    }
  }, 420_000);
});
