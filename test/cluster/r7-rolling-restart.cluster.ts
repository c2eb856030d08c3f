import { afterAll, describe, expect, it } from '@jest/globals';
import { ClusterScenario, RABBIT_CLUSTER, recordFigures, SHUTDOWN_TIMEOUT_MS } from './support/cluster-scenario.js';
import {
  connectionsPerNode,
  ensureRabbitClusterUp,
  RABBIT_NODES,
  restartRabbitNode,
  waitForQuorumMembers,
} from './support/rabbitmq-cluster.js';

// Scenario 7 (issue 11): rolling restart of the three RabbitMQ nodes, one at a time, under steady
// load. Each node is stopped gracefully and started again on its data, the next one only once
// every member of the group's quorum queues is back online, as operators do. The applications
// move off each node as it stops. Nothing is lost, no application process restarts.

const RATE = 150;
const WARMUP_CONFIRMS = 1_000;

describe('rabbitmq cluster: rolling restart under steady load', () => {
  afterAll(async () => {
    await ensureRabbitClusterUp();
  }, 300_000);

  it('publishes keep resolving and every confirmed publish is handled while each node restarts in turn', async () => {
    const s = new ClusterScenario('rmq-rolling', RABBIT_CLUSTER);
    let passed = false;
    try {
      const [a, b] = await s.startGroup();
      const producer = await s.producer({ concurrency: 50, ratePerSec: RATE });
      await s.untilConfirmed(WARMUP_CONFIRMS);

      const rollAt = Date.now();
      const steps: string[] = [];
      try {
        for (const node of RABBIT_NODES) {
          const began = Date.now();
          await restartRabbitNode(node);
          const restartedMs = Date.now() - began;
          const membersMs = await waitForQuorumMembers(`${s.topic}.${s.group}.p`, 120_000);
          const connections = [...(await connectionsPerNode()).keys()].join(',');
          steps.push(
            `node ${node}: restarted in ${restartedMs} ms, members online ${membersMs} ms later, applications then on node(s) ${connections}`,
          );
        }
      } finally {
        await ensureRabbitClusterUp();
      }
      const rolledAt = Date.now();
      // Some load after the last restart too, then the producer ends its stream.
      const confirmedAtEnd = s.ledger.confirmed.size;
      await s.untilConfirmed(confirmedAtEnd + RATE);

      const end = await s.finish(producer, { stopProducer: true });
      const consumeGap = s.maxConsumeGapMs(rollAt);
      const stall = s.maxPublishMs(rollAt, rolledAt);
      recordFigures({
        scenario: '7. RabbitMQ: rolling restart of the three nodes under steady load',
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
          `publishes at ${RATE}/s (50 in flight) until the roll was over, 2 consumer processes, group of 4 quorum queues (3 members); ` +
          `scripts/rabbitmq-cluster.sh restart N (rabbitmqctl stop, start on its data, wait until it rejoined) for N = 1, 2, 3, the next one once ` +
          `every queue member was online: ${steps.join('; ')}; roll took ${rolledAt - rollAt} ms; recover = longest publish stall during the roll ` +
          `(${stall} ms) or longest pause in handling (${consumeGap} ms); rejected: ${s.rejectionSummary()}; no process restarted`,
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
