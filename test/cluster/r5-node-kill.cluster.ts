import { afterAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ClusterScenario,
  RABBIT_CLUSTER,
  rabbitPartitionQueues,
  recordFigures,
  SHUTDOWN_TIMEOUT_MS,
} from './support/cluster-scenario.js';
import {
  connectionsPerNode,
  ensureRabbitClusterUp,
  killRabbitNode,
  rabbitNodeOf,
  restartRabbitNode,
  waitForQuorumMembers,
  type RabbitNodeId,
} from './support/rabbitmq-cluster.js';

// Scenario 5 (issue 11): on the three-node RabbitMQ cluster, SIGKILL the node the publisher and
// the consumers are connected to, in the middle of 10,000 publishes (restarted 10 s later). The
// applications fail over to another node of their URL list, declare their topology again and go
// on; the group's quorum queues elect new leaders. Every publish that resolved is handled; no
// application process restarts.

const SENT = 10_000;
const RATE = 500;
const KILL_AFTER_CONFIRMS = 3_000;
const RESTART_AFTER_MS = 10_000;

function describeCounts(counts: Map<RabbitNodeId, number>): string {
  return [...counts].map(([node, count]) => `node ${node}: ${count}`).join(', ') || 'none';
}

describe('rabbitmq cluster: the node the applications are connected to SIGKILLed mid-stream', () => {
  afterAll(async () => {
    await ensureRabbitClusterUp();
  }, 300_000);

  it('publisher and consumers fail over to another node; every confirmed publish is handled', async () => {
    const s = new ClusterScenario('rmq-node-kill', RABBIT_CLUSTER);
    let passed = false;
    try {
      const [a, b] = await s.startGroup();
      // The node the consumers are connected to (the first of their URL list that answers; the
      // producer, given the same list, connects there too). Looked up before the stream starts:
      // rabbitmqctl takes seconds on a busy machine, and the kill must come at the kill point.
      const before = await connectionsPerNode();
      const victim = [...before].sort((x, y) => y[1] - x[1])[0]![0];
      const leadersBefore = (await rabbitPartitionQueues(s.topic, s.group)).map((q) => rabbitNodeOf(q.leader));
      const producer = await s.producer({ count: SENT, concurrency: 50, ratePerSec: RATE });
      await s.untilConfirmed(KILL_AFTER_CONFIRMS);

      const confirmedAtKill = s.ledger.confirmed.size;
      const killAt = Date.now();
      let restartedAt: number;
      try {
        await killRabbitNode(victim);
        await sleep(Math.max(0, killAt + RESTART_AFTER_MS - Date.now())); // the scenario's timing, not a wait for a condition
        await restartRabbitNode(victim);
        restartedAt = Date.now();
      } finally {
        await ensureRabbitClusterUp();
      }
      const membersMs = await waitForQuorumMembers(`${s.topic}.${s.group}.p`, 120_000);
      const after = await connectionsPerNode();
      const leadersAfter = (await rabbitPartitionQueues(s.topic, s.group)).map((q) => rabbitNodeOf(q.leader));

      const end = await s.finish(producer, { stopProducer: false });
      const issuedAt = new Map(s.publishMs.map((p) => [p.id, p.at - p.ms]));
      const firstFreshHandle = s.ledger.handlings.find((h) => h.at > killAt && (issuedAt.get(h.id) ?? 0) > killAt);
      const stall = s.maxPublishMs(killAt - 1_000, restartedAt);
      const consumeGap = s.maxConsumeGapMs(killAt);
      recordFigures({
        scenario: '5. RabbitMQ: SIGKILL the node the publisher and consumers are connected to, restart 10 s later',
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
          `${SENT} publishes at ${RATE}/s (50 in flight), 2 consumer processes, group of 4 quorum queues (3 members); consumer connections before the stream: ` +
          `${describeCounts(before)}; node ${victim} SIGKILLed after ${confirmedAtKill} confirms (it led partition queues ` +
          `${leadersBefore.map((n, i) => `p${i}→${n}`).join(' ')}), restarted after ${RESTART_AFTER_MS} ms (rejoined ${restartedAt - killAt} ms ` +
          `after the kill, queue members all online ${membersMs} ms later); connections after: ${describeCounts(after)}; leaders after: ` +
          `${leadersAfter.map((n, i) => `p${i}→${n}`).join(' ')}; recover = longest publish stall around the kill (${stall} ms) or longest ` +
          `pause in handling (${consumeGap} ms); first message published after the kill handled ` +
          `${firstFreshHandle === undefined ? '–' : firstFreshHandle.at - killAt} ms after the kill; rejected: ${s.rejectionSummary()}; no process restarted`,
      });

      expect(confirmedAtKill).toBeLessThan(SENT); // the kill came mid-stream
      expect(before.size).toBe(1); // all instances on one node: the one killed
      expect(after.has(victim)).toBe(false); // they failed over (and stay where they went)
      expect(s.crashes()).toEqual([]);
      expect(end.appRestarts).toBe(0);
      expect(end.lost).toEqual([]);
      expect(s.ledger.confirmed.size + s.ledger.rejected.size).toBe(end.sent);
      expect(s.ledger.rejected.size).toBe(0); // the failover takes far less than publishTimeoutMs
      for (const exit of end.exits) expect(exit).toMatchObject({ code: 0 });
      for (const app of [a!, b!]) expect(Number(app.find('stopped')?.['ms'])).toBeLessThanOrEqual(SHUTDOWN_TIMEOUT_MS);
      passed = true;
    } finally {
      await s.cleanup(passed);
    }
  }, 420_000);
});
