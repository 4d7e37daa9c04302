import CohortBase

/// The group a leader fixed for one step: who averages, in which order, and who owns which part
/// of the flat vector. Every member receives the same plan and checks it.
///
/// The plan is self-verifying: its parts follow from its members by `LoadBalancing`, and its id
/// is a hash of its encoding, so a member recomputes both and refuses a plan that disagrees.
/// The id also names the all-reduce round that follows. (DeDLOC §3.1; hivemind's
/// `averaging/matchmaking.py` sends the group's ordered peer list and bandwidths the same way.)
public struct GroupPlan: Hashable, Sendable {
    /// At most this many members in one group; `Matchmaker.Settings.maxGroupSize` is ≤ this.
    public static let maxMembers = 1024
    /// The largest vector a plan describes (2⁴⁰ elements).
    public static let maxElementCount = 1 << 40

    public let step: UInt64
    public let elementCount: Int
    /// Whether the parts are runs of whole grid parts (`LoadBalancing.gridParts`), as in a run
    /// whose steps take several groups: their owners of a grid part average it together.
    public let onGrid: Bool
    /// Ordered by peer id; every member's `step` is the plan's step.
    public let members: [Declaration]
    /// `parts[i]` is the range of the vector `members[i]` owns; the parts tile `0..<elementCount`.
    public let parts: [Range<Int>]
    /// Hash of the plan's encoding: names the round and lets members check they hold the same plan.
    public private(set) var id: UInt64 = 0

    /// Returns nil when the members cannot form a group: fewer than two, duplicate peers, more than
    /// `maxMembers`, a member declared for another step, a bandwidth or sample count beyond the
    /// `Declaration` limits, or no member that accepts connections.
    public init?(step: UInt64, elementCount: Int, members: [Declaration], onGrid: Bool = false) {
        let sorted = members.sorted { $0.peer < $1.peer }
        guard sorted.count >= 2, sorted.count <= Self.maxMembers,
              (0...Self.maxElementCount).contains(elementCount),
              zip(sorted, sorted.dropFirst()).allSatisfy({ $0.peer != $1.peer }),
              sorted.allSatisfy({ $0.step == step && $0.samples > 0 && $0.isWithinLimits }),
              let parts = LoadBalancing.partition(
                elementCount: elementCount, bandwidths: sorted.map(\.bandwidth), clientMode: sorted.map(\.clientMode), onGrid: onGrid)
        else { return nil }
        self.step = step
        self.elementCount = elementCount
        self.onGrid = onGrid
        self.members = sorted
        self.parts = parts
        self.id = Self.fingerprint(encodedWithoutID())
    }

    /// The member that sends the plan: the lowest id among members that accept connections.
    public var leader: PeerID {
        members.first { !$0.clientMode }!.peer
    }

    public func index(of peer: PeerID) -> Int? {
        members.firstIndex { $0.peer == peer }
    }

    /// How much each member's contribution weighs in the averages: its sample count, cut to
    /// `ShareCap.medianMultiple` times the members' median so that no member outweighs the
    /// others by declaring samples it never computed.
    public var weights: [UInt64] {
        ShareCap.capped(members.map(\.samples))
    }

    /// Sum of the members' sample counts.
    public var totalSamples: UInt64 {
        members.reduce(0) { $0 + $1.samples }
    }

    /// FNV-1a, 64 bit: stable across platforms and releases, unlike `Hasher`.
    static func fingerprint(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }
}

extension GroupPlan {
    /// The plan as a payload: step, element count, whether it is on the grid, members (id, address, bandwidth, client mode,
    /// samples), parts (start, count), then the id; little-endian.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(bytes: encodedWithoutID())
        writer.write(id)
        return writer.bytes
    }

    private func encodedWithoutID() -> [UInt8] {
        var writer = ByteWriter(capacity: 32 + members.count * 96)
        writer.write(step)
        writer.write(UInt64(elementCount))
        writer.write(onGrid)
        writer.write(UInt16(members.count))
        for member in members {
            writer.write(member.peer)
            writer.write(member.address)
            writer.write(member.bandwidth)
            writer.write(member.clientMode)
            writer.write(member.samples)
        }
        for part in parts {
            writer.write(UInt64(part.lowerBound))
            writer.write(UInt64(part.count))
        }
        return writer.bytes
    }

    /// Decodes and verifies a plan: its parts and id must follow from its members.
    public init(decoding bytes: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(bytes, what: "group plan")
        let step = try reader.read(UInt64.self, "step")
        let elementCount = try reader.read(UInt64.self, "element count", in: 0...Self.maxElementCount)
        let onGrid = try reader.readBool("on grid")
        let memberCount = try reader.read(UInt16.self, "member count", in: 2...Self.maxMembers)
        var members: [Declaration] = []
        for _ in 0..<memberCount {
            members.append(Declaration(
                step: step,
                peer: try reader.readPeer("member id"),
                address: try reader.readString("member address", maxBytes: Declaration.maxAddressBytes),
                bandwidth: UInt64(try reader.read(UInt64.self, "member bandwidth", in: 0...Int(Declaration.maxBandwidth))),
                clientMode: try reader.readBool("member client mode"),
                samples: UInt64(try reader.read(UInt64.self, "member samples", in: 0...Int(Declaration.maxSamples)))))
        }
        var parts: [Range<Int>] = []
        for _ in 0..<memberCount {
            let start = try reader.read(UInt64.self, "part start", in: 0...Self.maxElementCount)
            let count = try reader.read(UInt64.self, "part size", in: 0...Self.maxElementCount)
            parts.append(start..<(start + count))
        }
        let id = try reader.read(UInt64.self, "plan id")
        try reader.finish()
        guard let plan = GroupPlan(step: step, elementCount: elementCount, members: members, onGrid: onGrid),
              plan.members == members else {
            throw PayloadDecodingError(.inconsistentPlan, "group plan: its members do not form a valid group in id order")
        }
        guard plan.parts == parts else {
            throw PayloadDecodingError(.inconsistentPlan, "group plan: parts \(parts) do not follow from the members' bandwidths")
        }
        guard plan.id == id else {
            throw PayloadDecodingError(.inconsistentPlan, "group plan: id \(id) is not the plan's hash \(plan.id)")
        }
        self = plan
    }
}
