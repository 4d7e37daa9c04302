import CohortBase

/// One group member's part in its step's second stage (docs/protocol.md, "Several groups in one
/// step"), as a pure state machine: the leader's listing and, for the step's lowest leader,
/// the list; for an owner, reading the list once its part is reduced, the second-stage rounds
/// it takes part in, and what its part skips. The shell runs the DHT reads and writes and the
/// rounds, and hands the outcome to its `AllReduceRound` (`onPartAveraged(skipping:)`).
///
/// Every wait ends by `deadline`, the round's: an owner without a list, or whose rounds have
/// not all ended by then, skips its whole part, as its round would at that deadline anyway.
public struct CrossGroupAverage: Sendable {
    public struct Settings: Sendable {
        /// How long the leader waits after its plan for the other groups' listings before it
        /// reads them, and lists the step's groups if it is the lowest leader.
        public var listingWindow: Duration = .seconds(2)
        /// How often an owner looks again for a list that is not there yet.
        public var listPoll: Duration = .milliseconds(500)

        public init() {}
    }

    public enum Action: Hashable, Sendable {
        /// Store this listing under the step's groups key (the leader's).
        case publishListing(GroupListing)
        /// Read the step's listings; answer with `onListingsRead`.
        case readListings
        /// Store this list under the step's list key: this leader is the step's lowest.
        case publishList(StepGroupList)
        /// Read the step's lists and listings side by side; answer with `onListRead`.
        case readList
        /// Call `onDeadline(now:)` at this time (or later).
        case wake(at: MonotonicInstant)
        /// Run this second-stage round over the part's elements it names; answer with
        /// `onRoundFinished`.
        case startRound(SecondStageRound)
        /// The second stage is over: the round's part goes to the group, less these grid parts
        /// (all of the part's: the part is skipped).
        case finished(skipping: UInt64)
    }

    private enum Phase: Sendable {
        /// The owner has not reduced its part yet (or the member owns none).
        case reducing
        case awaitingList
        case averaging(rounds: [UInt64: SecondStageRound], skipped: UInt64)
        case finished
    }

    public let plan: GroupPlan
    public let peer: PeerID
    public let settings: Settings
    public let deadline: MonotonicInstant
    /// The grid parts of this member's part, as bits.
    public let ownGridParts: UInt64
    private let listing: GroupListing
    private var listsAt: MonotonicInstant?
    private var phase = Phase.reducing
    private var nextListRead: MonotonicInstant?

    /// `plan` must be on the grid and list `peer`.
    public init(plan: GroupPlan, peer: PeerID, deadline: MonotonicInstant, settings: Settings = Settings()) {
        guard let listing = GroupListing(plan: plan), let index = plan.index(of: peer) else {
            preconditionFailure("plan \(plan.id) is off the grid or does not list \(peer)")
        }
        self.plan = plan
        self.peer = peer
        self.settings = settings
        self.deadline = deadline
        self.listing = listing
        ownGridParts = LoadBalancing.gridParts(in: plan.parts[index], elementCount: plan.elementCount)
    }

    /// The plan is fixed: its leader lists the group, and looks at the others' listings once
    /// the window is over.
    public mutating func start(now: MonotonicInstant) -> [Action] {
        guard plan.leader == peer else { return [] }
        listsAt = now + settings.listingWindow
        return [.publishListing(listing), .wake(at: listsAt!)]
    }

    /// The step's listings read (`(leader, listing)`, the leader being the record's writer): the
    /// step's lowest leader among them, if it is this one, stores the list.
    public func onListingsRead(_ listings: [(leader: PeerID, listing: GroupListing)]) -> [Action] {
        StepGroupList.compose(by: peer, step: plan.step, listings: listings).map { [.publishList($0)] } ?? []
    }

    /// This owner reduced its part: the second stage can start once the list is in.
    public mutating func onPartReduced(now: MonotonicInstant) -> [Action] {
        guard case .reducing = phase else { return [] }
        guard ownGridParts != 0 else { return finish(skipping: 0) }
        phase = .awaitingList
        return [.readList]
    }

    /// The step's lists and listings read. With no list yet, the owner looks again after a
    /// poll; with one, its group is on it or gives the step up, and it runs the rounds it is in.
    public mutating func onListRead(lists: [(writer: PeerID, list: StepGroupList)], listings: [(leader: PeerID, listing: GroupListing)],
                                    now: MonotonicInstant) -> [Action] {
        guard case .awaitingList = phase else { return [] }
        guard let list = StepGroupList.chosen(step: plan.step, from: lists) else {
            guard now + settings.listPoll < deadline else { return finish(skipping: ownGridParts) }
            nextListRead = now + settings.listPoll
            return [.wake(at: nextListRead!)]
        }
        guard list.lists(plan) else { return finish(skipping: ownGridParts) }
        // Its own group's listing as the list names it, or its leader listed something else.
        var byLeader: [PeerID: GroupListing] = [:]
        for (leader, listing) in listings where listing.step == plan.step { byLeader[leader] = listing }
        guard byLeader[plan.leader] == listing else { return finish(skipping: ownGridParts) }
        switch list.secondStage(elementCount: plan.elementCount, listings: byLeader) {
        case .notNeeded:
            return finish(skipping: 0)
        case .unavailable:
            return finish(skipping: ownGridParts)
        case .rounds(let rounds):
            let mine = rounds.filter { $0.plan.index(of: peer) != nil }
            guard mine.map(\.gridParts).reduce(0, |) == ownGridParts else { return finish(skipping: ownGridParts) }
            phase = .averaging(rounds: Dictionary(uniqueKeysWithValues: mine.map { ($0.plan.id, $0) }), skipped: 0)
            return mine.map { .startRound($0) } + [.wake(at: deadline)]
        }
    }

    /// A second-stage round ended: a part of it failed skips all of its grid parts.
    public mutating func onRoundFinished(_ result: AllReduceResult, now: MonotonicInstant) -> [Action] {
        guard case .averaging(var rounds, var skipped) = phase, let round = rounds.removeValue(forKey: result.roundID) else { return [] }
        if !result.isComplete { skipped |= round.gridParts }
        guard rounds.isEmpty else {
            phase = .averaging(rounds: rounds, skipped: skipped)
            return []
        }
        return finish(skipping: skipped)
    }

    /// Time passed: the leader reads the listings once its window is over; an owner looks for
    /// the list again; at the deadline whatever is still open is skipped.
    public mutating func onDeadline(now: MonotonicInstant) -> [Action] {
        var actions: [Action] = []
        if let listsAt, now >= listsAt {
            self.listsAt = nil
            actions.append(.readListings)
        }
        switch phase {
        case .awaitingList where now >= deadline:
            return actions + finish(skipping: ownGridParts)
        case .awaitingList:
            if let next = nextListRead, now >= next {
                nextListRead = nil
                actions.append(.readList)
            }
        case .averaging(let rounds, let skipped) where now >= deadline:
            return actions + finish(skipping: skipped | rounds.values.map(\.gridParts).reduce(0, |))
        case .reducing, .averaging, .finished:
            break
        }
        return actions
    }

    private mutating func finish(skipping skipped: UInt64) -> [Action] {
        phase = .finished
        return [.finished(skipping: skipped)]
    }
}
