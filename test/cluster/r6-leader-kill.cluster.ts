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
  rabbitNodeUrl,
  restartRabbitNode,
  waitForQuorumMembers,
  type RabbitNodeId,
} from './support/rabbitmq-cluster.js';

// Scenario 6 (issue 11): on the three-node RabbitMQ cluster, SIGKILL the node that leads the
// group's quorum queues while the applications are connected to another node (restarted 10 s
// later). The queues elect a new leader among the two other members; the consumers' channels
// follow it; publishes wait for the new leader's confirms. Every publish that resolved is
// handled; no application process restarts.
//
// A quorum queue is led by the node its declaring connection is on (RabbitMQ's client-local
// leader locator), so one instance of the group connected to node 2 only declares the group's
// queues first and stops; the application instances then connect to node 1 (their URL list).

const SENT = 10_000;
const RATE = 500;
const KILL_AFTER_CONFIRMS = 3_000;
const RESTART_AFTER_MS = 10_000;
const LEADER_NODE: RabbitNodeId = 2;

describe('rabbitmq cluster: the node leading the quorum queues SIGKILLed mid-stream', () => {
  afterAll(async () => {
    await ensureRabbitClusterUp();
  }, 300_000);

  it('the queues elect a new leader, the consumers follow it; every confirmed publish is handled', async () => {
    const s = new ClusterScenario('rmq-leader-kill', RABBIT_CLUSTER);
    let passed = false;
    try {
      await s.prepareGroup({ url: [rabbitNodeUrl(LEADER_NODE)] });
      const [a, b] = await s.startGroup();
      // Looked up before the stream starts: rabbitmqctl takes seconds on a busy machine, and the
      // kill must come at the kill point. The producer, given the consumers' URLs, connects where they did.
      const connections = await connectionsPerNode();
      const queues = await rabbitPartitionQueues(s.topic, s.group);
      const leadersBefore = queues.map((q) => rabbitNodeOf(q.leader));
      // The node leading the most partition queues (all of them, declared from node 2).
      const tally = new Map<RabbitNodeId, number>();
      for (const node of leadersBefore) tally.set(node, (tally.get(node) ?? 0) + 1);
      const victim = [...tally].sort((x, y) => y[1] - x[1])[0]![0];
      const clientNodes = [...connections.keys()];
      const producer = await s.producer({ count: SENT, concurrency: 50, ratePerSec: RATE });
      await s.untilConfirmed(KILL_AFTER_CONFIRMS);

      const confirmedAtKill = s.ledger.confirmed.size;
      const killAt = Date.now();
      let restartedAt: number;
      let leadersAfter: RabbitNodeId[] = [];
      try {
        await killRabbitNode(victim);
        await sleep(Math.max(0, killAt + RESTART_AFTER_MS - Date.now())); // the scenario's timing, not a wait for a condition
        leadersAfter = (await rabbitPartitionQueues(s.topic, s.group)).map((q) =>
          q.leader === '' ? victim : rabbitNodeOf(q.leader),
        );
        await restartRabbitNode(victim);
        restartedAt = Date.now();
      } finally {
        await ensureRabbitClusterUp();
      }
      const membersMs = await waitForQuorumMembers(`${s.topic}.${s.group}.p`, 120_000);
      const connectionsAfter = await connectionsPerNode();

      const end = await s.finish(producer, { stopProducer: false });
      const issuedAt = new Map(s.publishMs.map((p) => [p.id, p.at - p.ms]));
      const firstFreshHandle = s.ledger.handlings.find((h) => h.at > killAt && (issuedAt.get(h.id) ?? 0) > killAt);
      const stall = s.maxPublishMs(killAt - 1_000, restartedAt);
      const consumeGap = s.maxConsumeGapMs(killAt);
      recordFigures({
        scenario: '6. RabbitMQ: SIGKILL the node leading the quorum queues, restart 10 s later',
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
          `${SENT} publishes at ${RATE}/s (50 in flight), 2 consumer processes, group of 4 quorum queues (3 members) declared from node ` +
          `${LEADER_NODE}; applications connected to node(s) ${clientNodes.join(',')}; node ${victim} (leader of ` +
          `${leadersBefore.map((n, i) => `p${i}→${n}`).join(' ')}) SIGKILLed after ${confirmedAtKill} confirms; leaders 10 s after the kill: ` +
          `${leadersAfter.map((n, i) => `p${i}→${n}`).join(' ')}; restarted after ${RESTART_AFTER_MS} ms (rejoined ${restartedAt - killAt} ms after ` +
          `the kill, queue members all online ${membersMs} ms later); connections after: ${[...connectionsAfter.keys()].join(',')}; recover = ` +
          `longest publish stall around the kill (${stall} ms) or longest pause in handling (${consumeGap} ms); first message published after ` +
          `the kill handled ${firstFreshHandle === undefined ? '–' : firstFreshHandle.at - killAt} ms after the kill; rejected: ` +
          `${s.rejectionSummary()}; no process restarted`,
      });

      expect(confirmedAtKill).toBeLessThan(SENT); // the kill came mid-stream
      expect(clientNodes).not.toContain(victim); // the leader's node, not the applications' node
      expect(leadersAfter.every((node) => node !== victim)).toBe(true);
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
  }, 420_000);
});
