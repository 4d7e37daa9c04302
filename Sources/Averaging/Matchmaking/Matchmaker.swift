import CohortBase

/// Gathers the peers ready for a step into one group with an agreed plan, as a pure state
/// machine: it consumes "declarations seen" (from the DHT), plans received and clock ticks, and
/// returns actions; it never touches the network or a clock (DESIGN.md "Principles" 1).
///
/// Protocol (DeDLOC §3.1 "peers gather through the DHT"; hivemind's `averaging/matchmaking.py`):
/// 1. `onReady`: the peer publishes its `Declaration` for the step and gathers for
///    `Settings.gatherWindow`, reading the others' declarations.
/// 2. The leader is the lowest id among declared peers that accept connections (a client-mode
///    peer cannot be reached, so it cannot lead). When the window closes, or as soon as
///    `maxGroupSize` peers declared, the leader fixes the group — itself and the lowest other
///    ids, up to `maxGroupSize` — and sends the same `GroupPlan` to every member.
/// 3. A follower waits `planTimeout` for the plan. If none comes, it drops that leader and
///    follows the next candidate (who, seeing the same silence, now leads), up to `maxAttempts`
///    leaders; then it gives up the step. No state waits without a deadline.
///
/// One group per step: peers beyond `maxGroupSize` fail with `.groupFull` and wait for the next
/// step. Peers that declare after another leader's plan took the others do not gather a second
/// group smaller than that one: both would step from the same state to different ones, the
/// state election would keep the larger group's, and the smaller group's members would throw
/// their step away and download. Left out instead, they replay the larger group's update. A
/// plan without this peer counts only once every member in it, its leader included, is a
/// declaration this peer read, as declared: anyone can publish a plan, and one of identities
/// that never declared, or listing honest peers as they did not declare, must take nobody.
/// Peers whose DHT views differ may see different leaders; each member follows the first
/// valid plan it receives, and the all-reduce treats a member that followed another plan as a
/// failed sender, so the round still ends on time. A peer that sees another leader's plan
/// without itself no longer counts that plan's members: it would otherwise lead a group of
/// peers already averaging elsewhere (a peer whose declarations arrive late, and that has the
/// lowest id, did so every step). Left with nobody, it fails with `.leftOut` rather than
/// `.noOtherPeer`, so that it does not step alone.
public struct Matchmaker: Sendable {
    public struct Settings: Sendable {
        /// Length of the flat vector every plan splits.
        public var elementCount: Int
        /// Whether plans cut the vector on the grid (`LoadBalancing.gridParts`): in a run whose
        /// steps take several groups, which average each grid part across groups.
        public var onGrid = false
        /// How long peers gather before the leader fixes the group.
        public var gatherWindow: Duration = .seconds(15)
        /// How long a follower waits for a leader's plan after the window closes.
        public var planTimeout: Duration = .seconds(5)
        /// Most members in one group, at most `GroupPlan.maxMembers`.
        public var maxGroupSize: Int = 64
        /// Leaders a follower tries, one after another, before it gives up the step.
        public var maxAttempts: Int = 2
        /// Peers the shell expects at this step (from the run's progress records): once that many
        /// have declared, the leader fixes the group without waiting for the window to close.
        public var expectedGroupSize: Int?
        /// Peers whose declarations do not count this step: the shell's leaders that did not
        /// answer in recent steps (`leadersThatDidNotAnswer`). Identities with the lowest ids
        /// that declare and never send a plan would otherwise cost every step its attempts;
        /// this way each costs one attempt, then nothing for a while.
        public var excluded: Set<PeerID> = []

        public init(elementCount: Int) {
            self.elementCount = elementCount
        }
    }

    /// What the node shell must do.
    public enum Action: Hashable, Sendable {
        /// Store this declaration in the DHT under the run's key for its step.
        case publishDeclaration(Declaration)
        /// Call `onDeadline(now:)` at this time (or later).
        case wake(at: MonotonicInstant)
        /// Send the plan to this member.
        case sendPlan(GroupPlan, to: PeerID)
        /// The group is fixed: start the all-reduce round with this plan.
        case groupFormed(GroupPlan)
        /// No group this step: log the reason and publish it for the coordinator.
        case failed(FormationFailure)
    }

    private enum Phase: Sendable {
        case idle
        case gathering(until: MonotonicInstant)
        case awaitingPlan(from: PeerID, until: MonotonicInstant, attempt: Int)
        case finished
    }

    public let peer: PeerID
    public let address: String
    public let clientMode: Bool
    public let settings: Settings
    private var phase = Phase.idle
    private var own: Declaration?
    private var seen: [PeerID: Declaration] = [:]
    private var silentLeaders: [PeerID] = []
    /// Members of other leaders' plans that left this peer out, with the leader that took each.
    private var taken: [PeerID: PeerID] = [:]
    /// Every declaration for this step read so far that could join a group, taken or not.
    private var declared: [PeerID: Declaration] = [:]
    /// Peers that withdrew their declarations, with the declaration read before, if one was.
    /// They no longer count as candidates, nor confirm another leader's plan (a plan of peers
    /// known to be gone would have every reader with fewer candidates give up the step). But a
    /// plan with this peer that lists them is still followed: it was fixed before they withdrew,
    /// and they are left out of its round as absent senders. Refused, its other members went
    /// silent on its leader, who excluded them.
    private var withdrawn: [PeerID: Declaration?] = [:]
    /// Other leaders' plans without this peer whose members have not all been read declaring
    /// yet: plans are read before declarations, so a plan's members may come in the same read.
    private var unconfirmedPlans: [PeerID: GroupPlan] = [:]
    /// Unconfirmed plans kept at most: identities are cheap in an open run.
    static let maxUnconfirmedPlans = 64
    /// Excluded peers that declared this step.
    private var excludedSeen: Set<PeerID> = []
    /// The members of each other leader's confirmed plan that left this peer out: how large a
    /// group formed without it.
    private var otherGroups: [PeerID: [PeerID]] = [:]

    public init(peer: PeerID, address: String, clientMode: Bool, settings: Settings) {
        precondition((2...GroupPlan.maxMembers).contains(settings.maxGroupSize),
                     "max group size \(settings.maxGroupSize) is outside 2...\(GroupPlan.maxMembers)")
        precondition(settings.maxAttempts >= 1, "max attempts \(settings.maxAttempts) must be at least 1")
        self.peer = peer
        self.address = address
        self.clientMode = clientMode
        self.settings = settings
    }

    /// The step this peer gathers (or gathered) for.
    public var step: UInt64? { own?.step }

    /// The leaders this peer waited for in vain this step, first one first.
    public var leadersThatDidNotAnswer: [PeerID] { silentLeaders }

    /// The peer is ready to average `step` with `samples` accumulated; forgets any earlier step.
    public mutating func onReady(step: UInt64, samples: UInt64, bandwidth: UInt64, now: MonotonicInstant) -> [Action] {
        precondition(samples > 0, "a peer with no samples for step \(step) has nothing to average")
        precondition(samples <= Declaration.maxSamples, "\(samples) samples exceed \(Declaration.maxSamples)")
        let declaration = Declaration(
            step: step, peer: peer, address: address, bandwidth: min(bandwidth, Declaration.maxBandwidth),
            clientMode: clientMode, samples: samples)
        own = declaration
        seen = [peer: declaration]
        silentLeaders = []
        taken = [:]
        declared = [:]
        withdrawn = [:]
        unconfirmedPlans = [:]
        excludedSeen = []
        otherGroups = [:]
        let deadline = now + settings.gatherWindow
        phase = .gathering(until: deadline)
        return [.publishDeclaration(declaration), .wake(at: deadline)]
    }

    /// Declarations read from the DHT; those for other steps are ignored. The leader fixes the
    /// group at once when `maxGroupSize` peers, or the expected group size, have declared.
    public mutating func onDeclarationsSeen(_ declarations: [Declaration], now: MonotonicInstant) -> [Action] {
        guard let own, case .gathering = phase else { return [] }
        for declaration in declarations where declaration.step == own.step && declaration.peer != peer {
            guard declaration.samples > 0 else {
                withdraw(declaration.peer)
                continue
            }
            // Each read brings every declaration again: one read before changes nothing.
            guard declaration.isWithinLimits, declared[declaration.peer] != declaration else { continue }
            if settings.excluded.contains(declaration.peer) {
                excludedSeen.insert(declaration.peer)
            } else {
                declared[declaration.peer] = declaration
                if taken[declaration.peer] == nil { seen[declaration.peer] = declaration }
            }
        }
        for plan in unconfirmedPlans.values.sorted(by: { $0.leader < $1.leader }) { considerOtherPlan(plan) }
        let candidates = seen.values.filter { !silentLeaders.contains($0.peer) }
        if let otherLeader = largestOtherGroupLeader, candidates.count < 2 {
            // Another leader took every peer this one saw: waiting out the window would only let
            // the run move on, and a late peer that always waits would never catch up with short
            // rounds. Checked after the plans and declarations of one read are both in.
            return fail(.leftOut(leader: otherLeader, step: own.step))
        }
        let enough = min(settings.maxGroupSize, max(2, settings.expectedGroupSize ?? settings.maxGroupSize))
        guard candidates.count >= enough, candidates.count >= largestOtherGroup,
              let group = Self.group(of: candidates, maxSize: settings.maxGroupSize), group.leader == peer else { return [] }
        return lead(group.members, step: own.step)
    }

    /// The peer left this step's matchmaking without a group (its declaration of no samples
    /// replaced the one it made): it no longer counts, nor confirms another leader's plan.
    private mutating func withdraw(_ peer: PeerID) {
        if let declaration = declared.removeValue(forKey: peer) {
            withdrawn[peer] = declaration
        } else if withdrawn[peer] == nil {
            // Withdrawn before this peer read its declaration: gone all the same.
            withdrawn[peer] = .some(nil)
        }
        excludedSeen.remove(peer)
        if taken[peer] == nil { seen[peer] = nil }
    }

    /// A plan from `sender`. Accepted while gathering or waiting when it is for this step and this
    /// vector, cut as this run cuts it (on the grid or not), comes from its own leader and lists this peer. A valid plan without this peer
    /// takes its members out of the candidates.
    public mutating func onPlan(_ plan: GroupPlan, from sender: PeerID, now: MonotonicInstant) -> [Action] {
        guard let own, plan.step == own.step, plan.elementCount == settings.elementCount, plan.onGrid == settings.onGrid,
              sender == plan.leader,
              !settings.excluded.contains(sender) else { return [] }
        guard plan.index(of: peer) != nil else {
            // The leader this peer waits for fixed a group without it: no plan will come.
            if case .awaitingPlan(let leader, _, _) = phase, leader == sender {
                return fail(.leftOut(leader: sender, step: own.step))
            }
            // Its author leads others, not this peer, whether or not the plan counts.
            taken[sender] = sender
            seen[sender] = nil
            considerOtherPlan(plan)
            return []
        }
        guard agreesWithDeclarations(plan) else { return [] }
        if plan.members.count < largestOtherGroup, let otherLeader = largestOtherGroupLeader {
            return fail(.leftOut(leader: otherLeader, step: own.step))
        }
        switch phase {
        case .gathering, .awaitingPlan:
            phase = .finished
            return [.groupFormed(plan)]
        case .idle, .finished:
            return []
        }
    }

    /// A leader fixes the plan, so a dishonest one could put words in its members' mouths: more
    /// samples or bandwidth for a friend, fewer for this peer, more members than a group holds,
    /// or members that never declared (identities of its own, with which it could outvote this
    /// peer on the round's result). A plan counts only when every member is a declaration this
    /// peer read, as declared, and none is excluded. A plan that lists a declaration this peer
    /// has not read yet counts once it has: the shell reads plans again with every look.
    private func agreesWithDeclarations(_ plan: GroupPlan) -> Bool {
        plan.members.count <= settings.maxGroupSize && plan.members.allSatisfy { member in
            !settings.excluded.contains(member.peer) && (member.peer == peer ? own == member : listsAsDeclared(member))
        }
    }

    /// Whether `member`, as a plan lists it, is a declaration this peer read as declared, or one
    /// of a peer that withdrew before this peer read it (which no plan can misstate to any
    /// effect: the peer is gone). False for a peer another leader's plan took.
    private func listsAsDeclared(_ member: Declaration) -> Bool {
        if let read = seen[member.peer] { return read == member }
        guard taken[member.peer] == nil, let withdrawal = withdrawn[member.peer] else { return false }
        return withdrawal.map { $0 == member } ?? true
    }

    /// Time passed: closes the gathering window or gives up on a silent leader when due.
    public mutating func onDeadline(now: MonotonicInstant) -> [Action] {
        switch phase {
        case .gathering(let deadline) where now >= deadline:
            return decide(now: now, attempt: 0)
        case .awaitingPlan(let leader, let deadline, let attempt) where now >= deadline:
            silentLeaders.append(leader)
            guard attempt + 1 < settings.maxAttempts else {
                return fail(.leaderDidNotAnswer(leader: leader, step: own!.step, waited: settings.planTimeout))
            }
            return decide(now: now, attempt: attempt + 1)
        default:
            return []
        }
    }

    private mutating func decide(now: MonotonicInstant, attempt: Int) -> [Action] {
        let own = self.own!
        let candidates = seen.values.filter { !silentLeaders.contains($0.peer) }
        if candidates.count < largestOtherGroup, let otherLeader = largestOtherGroupLeader {
            return fail(.leftOut(leader: otherLeader, step: own.step))
        }
        guard candidates.count >= 2, let group = Self.group(of: candidates, maxSize: settings.maxGroupSize) else {
            if let lastSilent = silentLeaders.last {
                return fail(.leaderDidNotAnswer(leader: lastSilent, step: own.step, waited: settings.planTimeout))
            }
            if candidates.count < 2, let otherLeader = largestOtherGroupLeader {
                return fail(.leftOut(leader: otherLeader, step: own.step))
            }
            if candidates.count < 2 && !excludedSeen.isEmpty {
                return fail(.onlyExcludedPeers(step: own.step, count: excludedSeen.count))
            }
            return fail(candidates.count < 2
                ? .noOtherPeer(step: own.step, waited: settings.gatherWindow)
                : .allClientMode(peerCount: candidates.count))
        }
        if group.leader == peer {
            return lead(group.members, step: own.step)
        }
        guard group.members.contains(where: { $0.peer == peer }) else {
            return fail(.groupFull(step: own.step, maxGroupSize: settings.maxGroupSize))
        }
        let deadline = now + settings.planTimeout
        phase = .awaitingPlan(from: group.leader, until: deadline, attempt: attempt)
        return [.wake(at: deadline)]
    }

    /// Another leader's plan without this peer: it takes its members out of the candidates once
    /// every member is a declaration this peer read, as declared (until then it waits for the
    /// declarations). A plan of one member takes nobody but its author.
    private mutating func considerOtherPlan(_ plan: GroupPlan) {
        let confirmed = plan.members.count >= 2 && plan.members.count <= settings.maxGroupSize
            && plan.members.allSatisfy { declared[$0.peer] == $0 }
        guard confirmed else {
            if unconfirmedPlans[plan.leader] != nil || unconfirmedPlans.count < Self.maxUnconfirmedPlans {
                unconfirmedPlans[plan.leader] = plan
            }
            return
        }
        unconfirmedPlans[plan.leader] = nil
        guard otherGroups[plan.leader] == nil else { return }
        for member in plan.members {
            taken[member.peer] = plan.leader
            seen[member.peer] = nil
        }
        otherGroups[plan.leader] = plan.members.map(\.peer)
    }

    /// The most members of another leader's confirmed plan; 0 when there is none.
    private var largestOtherGroup: Int {
        otherGroups.values.map(\.count).max() ?? 0
    }

    /// The leader of the largest confirmed plan without this peer (the lowest id among equals):
    /// the one a left-out peer names, whatever other plans it read after.
    private var largestOtherGroupLeader: PeerID? {
        otherGroups.max { ($0.value.count, $1.key) < ($1.value.count, $0.key) }?.key
    }

    /// The members of the largest confirmed plan without this peer: those a left-out peer holds
    /// to account when their group never steps.
    public var largestOtherGroupMembers: [PeerID] {
        largestOtherGroupLeader.flatMap { otherGroups[$0] } ?? []
    }

    private mutating func lead(_ members: [Declaration], step: UInt64) -> [Action] {
        guard let plan = GroupPlan(step: step, elementCount: settings.elementCount, members: members, onGrid: settings.onGrid) else {
            preconditionFailure("members \(members) chosen by the leader do not form a plan")
        }
        phase = .finished
        return plan.members.filter { $0.peer != peer }.map { .sendPlan(plan, to: $0.peer) } + [.groupFormed(plan)]
    }

    private mutating func fail(_ reason: FormationFailure) -> [Action] {
        phase = .finished
        return [.failed(reason)]
    }

    /// The leader (lowest id accepting connections) and the group it fixes: itself and the lowest
    /// other ids, `maxSize` at most. Nil when every candidate is in client mode. Every read of a
    /// large run asks, so only the lowest `maxSize` ids are kept in order, not all of them.
    static func group(of candidates: some Collection<Declaration>, maxSize: Int) -> (leader: PeerID, members: [Declaration])? {
        let lowest = lowestIDs(maxSize, of: candidates)
        guard let leader = lowest.first(where: { !$0.clientMode })
            ?? candidates.filter({ !$0.clientMode }).min(by: { $0.peer < $1.peer }) else { return nil }
        let others = lowest.filter { $0.peer != leader.peer }.prefix(maxSize - 1)
        return (leader.peer, [leader] + others)
    }

    /// The `count` declarations with the lowest ids, lowest first.
    static func lowestIDs(_ count: Int, of declarations: some Collection<Declaration>) -> [Declaration] {
        var lowest: [Declaration] = []
        lowest.reserveCapacity(count + 1)
        for declaration in declarations where lowest.count < count || declaration.peer < lowest[lowest.count - 1].peer {
            var low = 0, high = lowest.count
            while low < high {
                let middle = (low + high) / 2
                if lowest[middle].peer < declaration.peer { low = middle + 1 } else { high = middle }
            }
            lowest.insert(declaration, at: low)
            if lowest.count > count { lowest.removeLast() }
        }
        return lowest
    }
}
