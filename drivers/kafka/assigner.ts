/**
 * The Kafka driver's partition assigner: round robin over the members subscribed to each topic.
 *
 * kafkajs's own `RoundRobinAssigner` deals the partitions of every topic any member subscribed
 * to among all members, so when the members of one group read different topics, each is given
 * partitions of topics it never fetches, and those are not consumed. This one deals a topic's
 * partitions only among the members whose subscription names it, as Kafka's Java
 * `RoundRobinAssignor` does. The subscriptions and assignments are the standard consumer
 * protocol's, so the group leader's choice is understood by every member.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { AssignerProtocol, type PartitionAssigner } from "kafkajs";

/**
 * An assigner named `name` that gives each topic's partitions, in order, to the members
 * subscribed to it, in member id order, one counter running across topics so that members with
 * the same subscription get equal shares.
 *
 * @param name The protocol name the group agrees on.
 * @returns The assigner, for kafkajs's `partitionAssigners`.
 */
export function subscribedRoundRobin(name: string): PartitionAssigner {
  return ({ cluster }) => ({
    name,
    version: 0,
    async assign({ members }) {
      const subscriptions = new Map<string, Set<string>>();
      for (const { memberId, memberMetadata } of members) {
        const metadata = AssignerProtocol.MemberMetadata.decode(memberMetadata);
        subscriptions.set(memberId, new Set(metadata?.topics ?? []));
      }
      // kafkajs passes the leader's own topics only: every member's count, and the leader's
      // client must know their partitions.
      const topics = [...new Set([...subscriptions.values()].flatMap((set) => [...set]))];
      await cluster.addMultipleTargetTopics(topics);
      const memberIds = [...subscriptions.keys()].sort();
      const assignment = new Map<string, Record<string, number[]>>(
        memberIds.map((memberId) => [memberId, Object.create(null)]),
      );
      let turn = 0;
      for (const topic of topics.sort()) {
        const readers = memberIds.filter((memberId) => subscriptions.get(memberId)!.has(topic));
        const partitions = cluster.findTopicPartitionMetadata(topic)
          .map(({ partitionId }) => partitionId)
          .sort((a, b) => a - b);
        for (const partition of partitions) {
          const given = assignment.get(readers[turn++ % readers.length])!;
          (given[topic] ??= []).push(partition);
        }
      }
      // Members given nothing are left out, as kafkajs's own assigner does: the coordinator sends
      // them an empty assignment. (Sending an encoded empty one instead made a member that
      // joined beside a leaving one miss the partition it was given next, on the mock cluster.)
      const given = memberIds.filter((memberId) => Object.keys(assignment.get(memberId)!).length);
      return given.map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: assignment.get(memberId)!,
          userData: Buffer.alloc(0),
        }),
      }));
    },
    protocol({ topics }) {
      return {
        name,
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 0,
          topics,
          userData: Buffer.alloc(0),
        }),
      };
    },
  });
}
