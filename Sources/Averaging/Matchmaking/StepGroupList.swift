import CohortBase

/// The groups that take one step together, as the step's lowest leader lists them under the
/// step's `list` key (docs/protocol.md, "Several groups in one step"). Every owner derives the
/// second stage's rounds from it and the groups' listings, so all derive the same; a group not
/// on the list gives the step up, its members replaying the step's update instead.
public struct StepGroupList: Hashable, Sendable {
    /// A listed group: its leader, its plan's id, what its listing says of it, and the
    /// listing's digest, which owners hold the listing they read to.
    public struct Entry: Hashable, Sendable {
        public var leader: PeerID
        public var planID: UInt64
        public var memberCount: Int
        public var weight: UInt64
        public var listingDigest: UInt64
    }

    /// Most groups in one step: a second-stage round holds one owner of each, and a round at
    /// most `GroupPlan.maxMembers`. The list then also fits one DHT record (58 bytes a group).
    public static let maxGroups = GroupPlan.maxMembers

    public let step: UInt64
    /// In ascending leader order; the first is the list's writer.
    public let entries: [Entry]

    /// The list `writer` stores after reading the step's listings (`(leader, listing)`, the
    /// leader being the record's writer): every listing for `step` whose owners appear in no
    /// other listing, up to `maxGroups`, lowest leaders first. Nil unless the writer's own group
    /// is the lowest listed: only the lowest leader lists, so that one list is written.
    ///
    /// A peer may own grid parts of one group only. Listings that name the same owner cannot all
    /// be true, and nobody can tell which is: all of them are left out, or a second stage would
    /// hold a peer twice and fail for everyone.
    public static func compose(by writer: PeerID, step: UInt64, listings: [(leader: PeerID, listing: GroupListing)]) -> StepGroupList? {
        let forStep = listings.filter { $0.listing.step == step }
        var ownerCount: [PeerID: Int] = [:]
        for (_, listing) in forStep {
            for owner in Set(listing.owners.map(\.peer)) { ownerCount[owner, default: 0] += 1 }
        }
        let listed = forStep
            .filter { $0.listing.owners.allSatisfy { ownerCount[$0.peer] == 1 } }
            .sorted { $0.leader < $1.leader }
            .prefix(maxGroups)
        guard listed.first?.leader == writer else { return nil }
        return StepGroupList(step: step, entries: listed.map {
            Entry(leader: $0.leader, planID: $0.listing.planID, memberCount: $0.listing.memberCount, weight: $0.listing.weight,
                  listingDigest: $0.listing.digest)
        })
    }

    init(step: UInt64, entries: [Entry]) {
        self.step = step
        self.entries = entries
    }

    /// The list a member follows among those read (`(writer, list)`): of the lists for `step`
    /// whose writer is their first leader, the lowest writer's. Any peer can store a list; one
    /// by a peer that leads no group listed first in it counts for nothing.
    public static func chosen(step: UInt64, from lists: [(writer: PeerID, list: StepGroupList)]) -> StepGroupList? {
        lists.filter { $0.list.step == step && $0.list.entries.first?.leader == $0.writer }
            .min { $0.writer < $1.writer }?.list
    }

    /// Whether the group of `plan` takes the step.
    public func lists(_ plan: GroupPlan) -> Bool {
        entries.contains { $0.planID == plan.id }
    }
}

extension StepGroupList {
    /// Step u64 · group count u16 (1…1024) · per group, in ascending leader order: leader id ·
    /// plan id u64 · member count u16 · weight u64 · listing digest u64.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 10 + entries.count * 58)
        writer.write(step)
        writer.write(UInt16(entries.count))
        for entry in entries {
            writer.write(entry.leader)
            writer.write(entry.planID)
            writer.write(UInt16(entry.memberCount))
            writer.write(entry.weight)
            writer.write(entry.listingDigest)
        }
        return writer.bytes
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(bytes, what: "step group list")
        let step = try reader.read(UInt64.self, "step")
        let count = try reader.read(UInt16.self, "group count", in: 1...Self.maxGroups)
        var entries: [Entry] = []
        for _ in 0..<count {
            entries.append(Entry(leader: try reader.readPeer("leader id"), planID: try reader.read(UInt64.self, "plan id"),
                                 memberCount: try reader.read(UInt16.self, "member count", in: 2...GroupPlan.maxMembers),
                                 weight: UInt64(try reader.read(UInt64.self, "weight", in: 1...Int(Declaration.maxSamples))),
                                 listingDigest: try reader.read(UInt64.self, "listing digest")))
        }
        try reader.finish()
        guard zip(entries, entries.dropFirst()).allSatisfy({ $0.leader < $1.leader }) else {
            throw PayloadDecodingError(.inconsistentPlan, "step group list: leaders are not in ascending order without repeats")
        }
        self.init(step: step, entries: entries)
    }
}
