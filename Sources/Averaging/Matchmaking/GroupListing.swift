import CohortBase

/// What a group's leader stores under its step's `groups` key once its plan is fixed, in a run
/// whose steps take several groups (docs/protocol.md, "Several groups in one step"): the group's
/// weight, for the step's list, and who owns each grid part, for the second stage, whose rounds
/// the owners of a grid part in every listed group derive from these listings alike.
public struct GroupListing: Hashable, Sendable {
    /// A member that owns grid parts, as it declared itself.
    public struct Owner: Hashable, Sendable {
        public var peer: PeerID
        public var address: String
        public var bandwidth: UInt64
    }

    public let step: UInt64
    /// The group plan's id.
    public let planID: UInt64
    public let memberCount: Int
    /// The group's weight in the second stage: its plan's capped sample sum, at most
    /// `Declaration.maxSamples`.
    public let weight: UInt64
    /// The members that own grid parts, in id order.
    public let owners: [Owner]
    /// For each grid part, the index in `owners` of its owner; nil for a grid part without
    /// elements (a vector shorter than the grid).
    public let gridOwners: [Int?]

    /// The listing of `plan`; nil for a plan off the grid.
    public init?(plan: GroupPlan) {
        guard plan.onGrid else { return nil }
        let owning = plan.parts.indices.filter { !plan.parts[$0].isEmpty }
        step = plan.step
        planID = plan.id
        memberCount = plan.members.count
        weight = min(plan.weights.reduce(0, +), Declaration.maxSamples)
        owners = owning.map { Owner(peer: plan.members[$0].peer, address: plan.members[$0].address, bandwidth: plan.members[$0].bandwidth) }
        gridOwners = (0..<LoadBalancing.gridParts).map { index in
            let gridPart = LoadBalancing.gridPart(index, elementCount: plan.elementCount)
            guard !gridPart.isEmpty else { return nil }
            return owning.firstIndex { plan.parts[$0].contains(gridPart.lowerBound) }
        }
    }

    init(step: UInt64, planID: UInt64, memberCount: Int, weight: UInt64, owners: [Owner], gridOwners: [Int?]) {
        self.step = step
        self.planID = planID
        self.memberCount = memberCount
        self.weight = weight
        self.owners = owners
        self.gridOwners = gridOwners
    }

    /// A hash of the encoding (FNV-1a, as a plan's id), which the step's list carries, so that
    /// a leader storing two listings of one plan cannot have owners derive different rounds.
    public var digest: UInt64 { GroupPlan.fingerprint(encoded()) }

    /// Marks a grid part without elements in the encoding.
    static let noOwner: UInt8 = 0xFF

    /// Step u64 · plan id u64 · member count u16 · weight u64 · owner count u8 · per owner: id ·
    /// address `str16` · bandwidth u64 · per grid part: its owner's index u8 (0xFF: none).
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 96 + owners.count * 64)
        writer.write(step)
        writer.write(planID)
        writer.write(UInt16(memberCount))
        writer.write(weight)
        writer.write(UInt8(owners.count))
        for owner in owners {
            writer.write(owner.peer)
            writer.write(owner.address)
            writer.write(owner.bandwidth)
        }
        for owner in gridOwners { writer.write(owner.map(UInt8.init) ?? Self.noOwner) }
        return writer.bytes
    }

    /// Decodes and checks a listing: members and owners within a group's bounds, owners in
    /// ascending id order without repeats, and every grid part's owner one of them, each owning
    /// one run of consecutive grid parts (as a plan's contiguous parts do).
    public init(decoding bytes: ArraySlice<UInt8>) throws(PayloadDecodingError) {
        var reader = ByteReader(bytes, what: "group listing")
        let step = try reader.read(UInt64.self, "step")
        let planID = try reader.read(UInt64.self, "plan id")
        let memberCount = try reader.read(UInt16.self, "member count", in: 2...GroupPlan.maxMembers)
        let weight = UInt64(try reader.read(UInt64.self, "weight", in: 1...Int(Declaration.maxSamples)))
        let ownerCount = try reader.read(UInt8.self, "owner count", in: 1...min(memberCount, LoadBalancing.gridParts))
        var owners: [Owner] = []
        for _ in 0..<ownerCount {
            owners.append(Owner(peer: try reader.readPeer("owner id"),
                                address: try reader.readString("owner address", maxBytes: Declaration.maxAddressBytes),
                                bandwidth: UInt64(try reader.read(UInt64.self, "owner bandwidth", in: 0...Int(Declaration.maxBandwidth)))))
        }
        var gridOwners: [Int?] = []
        for _ in 0..<LoadBalancing.gridParts {
            let index = try reader.read(UInt8.self, "grid part owner")
            guard index == Self.noOwner || Int(index) < ownerCount else {
                throw PayloadDecodingError(.outOfRange, "group listing: grid part owner \(index) of \(ownerCount) owners")
            }
            gridOwners.append(index == Self.noOwner ? nil : Int(index))
        }
        try reader.finish()
        guard zip(owners, owners.dropFirst()).allSatisfy({ $0.peer < $1.peer }) else {
            throw PayloadDecodingError(.inconsistentPlan, "group listing: owners are not in ascending id order without repeats")
        }
        let runs = gridOwners.compactMap { $0 }.reduce(into: [Int]()) { runs, owner in
            if runs.last != owner { runs.append(owner) }
        }
        guard runs == Array(0..<ownerCount) else {
            throw PayloadDecodingError(.inconsistentPlan, "group listing: owners do not each own one run of grid parts in id order")
        }
        self.init(step: step, planID: planID, memberCount: memberCount, weight: weight, owners: owners, gridOwners: gridOwners)
    }
}
