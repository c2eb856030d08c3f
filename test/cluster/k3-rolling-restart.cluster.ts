import { afterAll, describe, expect, it } from '@jest/globals';
import { ensureClusterUp, NODES, restartNode, waitForFullIsr } from './support/cluster.js';
import { ClusterScenario, recordFigures, SHUTDOWN_TIMEOUT_MS } from './support/cluster-scenario.js';

// Scenario 3 (issue 11): rolling restart of the three brokers, one at a time, under steady load.
// Each broker is stopped (SIGTERM: controlled shutdown) and started again, and the next one only
// once every replica is back in sync, as operators do. No publish fails, nothing is lost, no
// application process restarts.

const RATE = 150;
const WARMUP_CONFIRMS = 1_000;

describe('kafka cluster: rolling restart under steady load', () => {
  afterAll(async () => {
    await ensureClusterUp();
  }, 300_000);

  it('publishes keep resolving and every confirmed publish is handled while each broker restarts in turn', async () => {
    const s = new ClusterScenario('rolling');
    let passed = false;
    try {
      const [a, b] = await s.startGroup();
      const producer = await s.producer({ concurrency: 50, ratePerSec: RATE });
      await s.untilConfirmed(WARMUP_CONFIRMS);

      const rollAt = Date.now();
      const steps: string[] = [];
      try {
        for (const node of NODES) {
          const began = Date.now();
          await restartNode(node);
          const restartedMs = Date.now() - began;
          const isrMs = await waitForFullIsr([s.topic, '__consumer_offsets'], 120_000);
          steps.push(`node ${node}: restarted in ${restartedMs} ms, in sync ${isrMs} ms later`);
        }
      } finally {
        await ensureClusterUp();
      }
      const rolledAt = Date.now();
      // Some load after the last restart too, then the producer ends its stream.
      const confirmedAtEnd = s.ledger.confirmed.size;
      await s.untilConfirmed(confirmedAtEnd + RATE);

      const end = await s.finish(producer, { stopProducer: true });
      const consumeGap = s.maxConsumeGapMs(rollAt);
      const stall = s.maxPublishMs(rollAt, rolledAt);
      recordFigures({
        scenario: '3. Rolling restart of the three brokers under steady load',
        sent: end.sent,
        confirmed: s.ledger.confirmed.size,
        rejected: s.ledger.rejected.size,
        received: s.ledger.received,
        lost: end.lost.length,
        duplicates: s.ledger.duplicates,
        recoverMs: Math.max(stall, consumeGap),
        maxPublishMs: s.maxPublishMs(),
        appRestarts: end.appRestarts,
        durationMs: end.drainedAt - s.startedAt,
        notes:
          `publishes at ${RATE}/s (50 in flight) until the roll was over, 2 consumer processes; scripts/kafka-cluster.sh restart N ` +
          `(SIGTERM, controlled shutdown, start on its data) for N = 1, 2, 3, the next one once every replica was in sync: ${steps.join('; ')}; ` +
          `roll took ${rolledAt - rollAt} ms; recover = longest publish stall during the roll (${stall} ms) or longest pause in ` +
          `handling (${consumeGap} ms); rejected: ${s.rejectionSummary()}; no process restarted`,
      });

      expect(s.crashes()).toEqual([]);
      expect(end.appRestarts).toBe(0);
      expect(end.lost).toEqual([]);
      expect(s.ledger.confirmed.size + s.ledger.rejected.size).toBe(end.sent);
      expect(s.ledger.rejected.size).toBe(0);
      for (const exit of end.exits) expect(exit).toMatchObject({ code: 0 });
      for (const app of [a!, b!]) expect(Number(app.find('stopped')?.['ms'])).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
      passed = true;
    } finally {
      await s.cleanup(passed);
    }
  }, 600_000);
});
