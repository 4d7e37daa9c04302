import CohortBase
import Testing
@testable import Averaging

/// Peers' matchmakers wired through a shared declaration list (the DHT) and plan delivery, at
/// once and again with every gossip, as the shell reads plans again with every look.
struct MatchmakingNetwork {
    var peers: [Matchmaker]
    var published: [Declaration] = []
    /// Plans sent so far: (plan, sender index, target index).
    var plans: [(GroupPlan, Int, Int)] = []
    var outcomes: [PeerID: Matchmaker.Action] = [:]
    var wakes: [PeerID: [MonotonicInstant]] = [:]
    /// Peers that crashed after declaring: they process nothing and send nothing.
    var crashed: Set<PeerID> = []

    init(_ peers: [(PeerID, clientMode: Bool)], settings: Matchmaker.Settings) {
        self.peers = peers.map { Matchmaker(peer: $0.0, address: "10.0.0.1:7000", clientMode: $0.clientMode, settings: settings) }
    }

    mutating func readyAll(step: UInt64 = 41, now: MonotonicInstant = .zero) {
        for index in peers.indices {
            handle(peers[index].onReady(step: step, samples: UInt64(10 + index), bandwidth: 1_000_000, now: now), of: index, now: now)
        }
    }

    mutating func gossip(now: MonotonicInstant) {
        for index in peers.indices where !crashed.contains(peers[index].peer) {
            handle(peers[index].onDeclarationsSeen(published, now: now), of: index, now: now)
            for (plan, sender, target) in plans where target == index {
                handle(peers[index].onPlan(plan, from: peers[sender].peer, now: now), of: index, now: now)
            }
        }
    }

    mutating func advance(to now: MonotonicInstant) {
        for index in peers.indices where !crashed.contains(peers[index].peer) {
            handle(peers[index].onDeadline(now: now), of: index, now: now)
        }
    }

    mutating func handle(_ actions: [Matchmaker.Action], of index: Int, now: MonotonicInstant) {
        let sender = peers[index].peer
        for action in actions {
            switch action {
            case .publishDeclaration(let declaration):
                published.append(declaration)
            case .wake(let time):
                wakes[sender, default: []].append(time)
            case .sendPlan(let plan, let target):
                guard !crashed.contains(sender), let targetIndex = peers.firstIndex(where: { $0.peer == target }),
                      !crashed.contains(target) else { continue }
                let decoded = try! GroupPlan(decoding: plan.encoded()[...])
                plans.append((decoded, index, targetIndex))
                handle(peers[targetIndex].onPlan(decoded, from: sender, now: now), of: targetIndex, now: now)
            case .groupFormed, .failed:
                #expect(outcomes[sender] == nil, "\(sender) got two outcomes")
                outcomes[sender] = action
            }
        }
    }

    func plan(of peer: PeerID) -> GroupPlan? {
        if case .groupFormed(let plan) = outcomes[peer] { return plan }
        return nil
    }

    func failure(of peer: PeerID) -> FormationFailure? {
        if case .failed(let reason) = outcomes[peer] { return reason }
        return nil
    }
}

@Suite struct MatchmakerTests {
    static let settings = Matchmaker.Settings(elementCount: 10_000)

    @Test func lowestIdAcceptingConnectionsLeadsAndEveryMemberGetsTheSamePlan() {
        var network = MatchmakingNetwork([(peerID(7), false), (peerID(3), true), (peerID(9), false), (peerID(5), false)],
                                         settings: Self.settings)
        network.readyAll()
        #expect(network.wakes[peerID(7)] == [seconds(15)])
        network.gossip(now: seconds(2))
        #expect(network.outcomes.isEmpty)
        network.advance(to: seconds(15))
        let plans = [3, 5, 7, 9].map { network.plan(of: peerID($0)) }
        #expect(plans.allSatisfy { $0 != nil && $0 == plans[0] })
        let plan = plans[0]!
        #expect(plan.leader == peerID(5))
        #expect(plan.members.map(\.peer) == [peerID(3), peerID(5), peerID(7), peerID(9)])
        #expect(plan.parts[0].isEmpty)
        #expect(plan.step == 41 && plan.elementCount == 10_000)
    }

    @Test func leaderFixesTheGroupAtOnceWhenItIsFull() {
        var settings = Self.settings
        settings.maxGroupSize = 3
        var network = MatchmakingNetwork([(peerID(1), false), (peerID(2), false), (peerID(3), false)], settings: settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        #expect(network.outcomes.count == 3)
        #expect(network.plan(of: peerID(3))?.members.count == 3)
    }

    @Test func peersBeyondTheMaximumGroupSizeWaitForTheNextStep() {
        var settings = Self.settings
        settings.maxGroupSize = 2
        var network = MatchmakingNetwork([(peerID(1), false), (peerID(2), false), (peerID(3), false)], settings: settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.advance(to: seconds(15))
        #expect(network.plan(of: peerID(1))?.members.map(\.peer) == [peerID(1), peerID(2)])
        #expect(network.plan(of: peerID(2)) == network.plan(of: peerID(1)))
        #expect(network.failure(of: peerID(3)) == .groupFull(step: 41, maxGroupSize: 2))
    }

    @Test func aLonePeerSaysNoOtherPeerDeclared() {
        var network = MatchmakingNetwork([(peerID(1), false)], settings: Self.settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.advance(to: seconds(14.9))
        #expect(network.outcomes.isEmpty)
        network.advance(to: seconds(15))
        #expect(network.failure(of: peerID(1))?.description == "no other peer declared step 41 within 15 s")
    }

    @Test func peersAllInClientModeSayOneMustAcceptConnections() {
        var network = MatchmakingNetwork([(peerID(1), true), (peerID(2), true), (peerID(3), true)], settings: Self.settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.advance(to: seconds(15))
        for byte: UInt8 in 1...3 {
            #expect(network.failure(of: peerID(byte))?.description
                    == "all 3 peers are in client mode: at least one must accept connections")
        }
    }

    @Test func aSilentLeaderIsReplacedByTheNextLowestId() {
        var network = MatchmakingNetwork([(peerID(1), false), (peerID(2), false), (peerID(3), true)], settings: Self.settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.crashed.insert(peerID(1))
        network.advance(to: seconds(15))
        #expect(network.outcomes.isEmpty)
        #expect(network.wakes[peerID(3)]?.last == seconds(20))
        network.advance(to: seconds(20))
        let plan = network.plan(of: peerID(3))
        #expect(plan?.members.map(\.peer) == [peerID(2), peerID(3)])
        #expect(network.plan(of: peerID(2)) == plan)
    }

    @Test func silentLeadersAreNamedAndExcludedPeersDoNotCount() {
        var network = MatchmakingNetwork([(peerID(1), false), (peerID(2), false), (peerID(3), false), (peerID(4), true)],
                                         settings: Self.settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.crashed.formUnion([peerID(1), peerID(2)])
        for time in [15.0, 20, 25] {
            network.advance(to: seconds(time))
        }
        #expect(network.peers[3].leadersThatDidNotAnswer == [peerID(1), peerID(2)])
        // The next step, the shell leaves them out: the lowest honest id leads at once.
        var settings = Self.settings
        settings.excluded = [peerID(1), peerID(2)]
        var next = MatchmakingNetwork([(peerID(1), false), (peerID(2), false), (peerID(3), false), (peerID(4), true)], settings: settings)
        next.crashed.formUnion([peerID(1), peerID(2)])
        next.readyAll(step: 42)
        next.gossip(now: seconds(1))
        next.advance(to: seconds(15))
        #expect(next.plan(of: peerID(4))?.members.map(\.peer) == [peerID(3), peerID(4)])
        #expect(next.plan(of: peerID(3)) == next.plan(of: peerID(4)))
    }

    @Test func aPeerWhoseOnlyCompanyIsExcludedDoesNotStepAlone() {
        var settings = Self.settings
        settings.excluded = [peerID(1)]
        var network = MatchmakingNetwork([(peerID(1), false), (peerID(2), false)], settings: settings)
        network.readyAll()
        network.crashed.insert(peerID(1))
        network.gossip(now: seconds(1))
        network.advance(to: seconds(15))
        #expect(network.failure(of: peerID(2)) == .onlyExcludedPeers(step: 41, count: 1))
    }

    @Test func aFollowerWithoutAPlanGivesUpAndNamesTheLeader() {
        var settings = Self.settings
        settings.maxAttempts = 1
        let leader = peerID(hex: "9f3c")
        var network = MatchmakingNetwork([(leader, false), (peerID(hex: "a0"), false)], settings: settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.crashed.insert(leader)
        network.advance(to: seconds(15))
        network.advance(to: seconds(19))
        #expect(network.outcomes.isEmpty)
        network.advance(to: seconds(20))
        #expect(network.failure(of: peerID(hex: "a0"))?.description
                == "leader 9f3c… did not answer (no plan for step 41 within 5 s)")
    }

    @Test func everyLeaderSilentEndsTheStepInsteadOfWaiting() {
        var network = MatchmakingNetwork([(peerID(1), false), (peerID(2), false), (peerID(3), true)], settings: Self.settings)
        network.readyAll()
        network.gossip(now: seconds(1))
        network.crashed.formUnion([peerID(1), peerID(2)])
        for time in [15.0, 20, 25] {
            network.advance(to: seconds(time))
        }
        #expect(network.failure(of: peerID(3)) == .leaderDidNotAnswer(leader: peerID(2), step: 41, waited: .seconds(5)))
    }

    @Test func plansFromNonLeadersOrForOtherStepsAreIgnored() {
        var follower = Matchmaker(peer: peerID(3), address: "10.0.0.1:7000", clientMode: false, settings: Self.settings)
        _ = follower.onReady(step: 41, samples: 32, bandwidth: 1_000_000, now: .zero)
        _ = follower.onDeclarationsSeen([declaration(peerID(1)), declaration(peerID(2))], now: .zero)
        let members = [declaration(peerID(1)), declaration(peerID(2)), declaration(peerID(3))]
        let plan = GroupPlan(step: 41, elementCount: 10_000, members: members)!
        #expect(follower.onPlan(plan, from: peerID(2), now: seconds(1)).isEmpty)
        let otherStep = GroupPlan(step: 40, elementCount: 10_000, members: members.map { declaration($0.peer, step: 40) })!
        #expect(follower.onPlan(otherStep, from: peerID(1), now: seconds(1)).isEmpty)
        let otherVector = GroupPlan(step: 41, elementCount: 9, members: members)!
        #expect(follower.onPlan(otherVector, from: peerID(1), now: seconds(1)).isEmpty)
        let otherCut = GroupPlan(step: 41, elementCount: 10_000, members: members, onGrid: true)!
        #expect(follower.onPlan(otherCut, from: peerID(1), now: seconds(1)).isEmpty)
        #expect(follower.onPlan(plan, from: peerID(1), now: seconds(1)) == [.groupFormed(plan)])
        #expect(follower.onPlan(plan, from: peerID(1), now: seconds(1)).isEmpty)
    }

    @Test func aPlanThatMisstatesADeclarationThisPeerReadIsIgnored() {
        var follower = Matchmaker(peer: peerID(3), address: "10.0.0.1:7000", clientMode: false, settings: Self.settings)
        _ = follower.onReady(step: 41, samples: 32, bandwidth: 1_000_000, now: .zero)
        _ = follower.onDeclarationsSeen([declaration(peerID(1)), declaration(peerID(2))], now: seconds(1))
        let honest = [declaration(peerID(1)), declaration(peerID(2)), declaration(peerID(3))]
        let inflatedFriend = GroupPlan(step: 41, elementCount: 10_000,
                                       members: [declaration(peerID(1)), declaration(peerID(2), samples: 1 << 30), declaration(peerID(3))])!
        #expect(follower.onPlan(inflatedFriend, from: peerID(1), now: seconds(2)).isEmpty)
        let shrunkSelf = GroupPlan(step: 41, elementCount: 10_000,
                                   members: [declaration(peerID(1)), declaration(peerID(2)), declaration(peerID(3), samples: 1)])!
        #expect(follower.onPlan(shrunkSelf, from: peerID(1), now: seconds(2)).isEmpty)
        var small = Self.settings
        small.maxGroupSize = 2
        var strict = Matchmaker(peer: peerID(3), address: "10.0.0.1:7000", clientMode: false, settings: small)
        _ = strict.onReady(step: 41, samples: 32, bandwidth: 1_000_000, now: .zero)
        _ = strict.onDeclarationsSeen([declaration(peerID(1)), declaration(peerID(2))], now: .zero)
        let honestPlan = GroupPlan(step: 41, elementCount: 10_000, members: honest)!
        #expect(strict.onPlan(honestPlan, from: peerID(1), now: seconds(2)).isEmpty)
        #expect(follower.onPlan(honestPlan, from: peerID(1), now: seconds(2)) == [.groupFormed(honestPlan)])
    }

    /// Found in review: a low-id stranger could put a gathering peer in a round of identities
    /// of its own that never declared, then outvote it on the round's result.
    @Test func aPlanWithMembersThatNeverDeclaredOrWithExcludedPeersIsIgnored() {
        var follower = Matchmaker(peer: peerID(3), address: "10.0.0.1:7000", clientMode: false, settings: Self.settings)
        _ = follower.onReady(step: 41, samples: 32, bandwidth: 1_000_000, now: .zero)
        _ = follower.onDeclarationsSeen([declaration(peerID(1))], now: .zero)
        let captured = GroupPlan(step: 41, elementCount: 10_000,
                                 members: [declaration(peerID(1)), declaration(peerID(2)), declaration(peerID(3)), declaration(peerID(4))])!
        #expect(follower.onPlan(captured, from: peerID(1), now: seconds(1)).isEmpty)
        var settings = Self.settings
        settings.excluded = [peerID(1)]
        var wary = Matchmaker(peer: peerID(3), address: "10.0.0.1:7000", clientMode: false, settings: settings)
        _ = wary.onReady(step: 41, samples: 32, bandwidth: 1_000_000, now: .zero)
        _ = wary.onDeclarationsSeen([declaration(peerID(1)), declaration(peerID(2))], now: .zero)
        let ledByExcluded = GroupPlan(step: 41, elementCount: 10_000,
                                      members: [declaration(peerID(1)), declaration(peerID(2)), declaration(peerID(3))])!
        #expect(wary.onPlan(ledByExcluded, from: peerID(1), now: seconds(1)).isEmpty)
    }

    @Test func aMemberDeclaringHugeSamplesWeighsAtMostTwiceTheMedian() {
        let plan = GroupPlan(step: 41, elementCount: 10_000, members: [
            declaration(peerID(1), samples: Declaration.maxSamples), declaration(peerID(2), samples: 8), declaration(peerID(3), samples: 8),
        ])!
        #expect(plan.weights == [16, 8, 8])
    }

    /// Found by FuzzAveragingPayloads: a leader given declarations whose bandwidths overflow
    /// the group's sum (or its own, measured as `UInt64.max`) failed a precondition forming the plan.
    @Test func fuzzCrashDeclarationsBeyondTheLimitsAreIgnoredAndOwnBandwidthIsCapped() {
        var leader = Matchmaker(peer: peerID(1), address: "10.0.0.1:7000", clientMode: false, settings: Self.settings)
        let ready = leader.onReady(step: 41, samples: 8, bandwidth: .max, now: .zero)
        #expect(ready.contains { if case .publishDeclaration(let own) = $0 { own.bandwidth == Declaration.maxBandwidth } else { false } })
        let hostile = [declaration(peerID(2), bandwidth: .max), declaration(peerID(3), samples: .max)]
        #expect(leader.onDeclarationsSeen(hostile, now: seconds(1)).isEmpty)
        let fine = declaration(peerID(4), bandwidth: Declaration.maxBandwidth)
        _ = leader.onDeclarationsSeen(hostile + [fine], now: seconds(2))
        let actions = leader.onDeadline(now: seconds(15))
        let plan = actions.lazy.compactMap { if case .groupFormed(let plan) = $0 { plan } else { nil } }.first
        #expect(plan?.members.map(\.peer) == [peerID(1), peerID(4)])
    }

    @Test func declarationsForOtherStepsDoNotCount() {
        var network = MatchmakingNetwork([(peerID(1), false)], settings: Self.settings)
        network.readyAll()
        network.published.append(declaration(peerID(2), step: 40))
        network.gossip(now: seconds(1))
        network.advance(to: seconds(15))
        #expect(network.failure(of: peerID(1)) == .noOtherPeer(step: 41, waited: .seconds(15)))
    }
}

@Suite struct MatchmakerExpectedSizeTests {
    static func peer(_ byte: UInt8) -> PeerID { PeerID(bytes: [UInt8](repeating: byte, count: 32))! }

    @Test func leaderFormsTheGroupAsSoonAsTheExpectedPeersDeclared() {
        var settings = Matchmaker.Settings(elementCount: 100)
        settings.expectedGroupSize = 3
        var leader = Matchmaker(peer: Self.peer(1), address: "127.0.0.1:1", clientMode: false, settings: settings)
        _ = leader.onReady(step: 4, samples: 8, bandwidth: 1, now: .zero)
        let others = [Self.peer(2), Self.peer(3)].map {
            Declaration(step: 4, peer: $0, address: "127.0.0.1:2", bandwidth: 1, clientMode: false, samples: 8)
        }
        #expect(leader.onDeclarationsSeen([others[0]], now: .zero + .milliseconds(10)).isEmpty)
        let actions = leader.onDeclarationsSeen(others, now: .zero + .milliseconds(20))
        #expect(actions.contains { if case .groupFormed(let plan) = $0 { plan.members.count == 3 } else { false } })
    }
}

@Suite struct MatchmakerLeftOutTests {
    static func peer(_ byte: UInt8) -> PeerID { PeerID(bytes: [UInt8](repeating: byte, count: 32))! }

    @Test func aFollowerLeftOutOfItsLeadersPlanGivesUpAtOnce() throws {
        var settings = Matchmaker.Settings(elementCount: 100)
        settings.gatherWindow = .seconds(1)
        var follower = Matchmaker(peer: Self.peer(3), address: "127.0.0.1:3", clientMode: false, settings: settings)
        _ = follower.onReady(step: 9, samples: 8, bandwidth: 1, now: .zero)
        let declarations = [Self.peer(1), Self.peer(2)].map {
            Declaration(step: 9, peer: $0, address: "127.0.0.1:1", bandwidth: 1, clientMode: false, samples: 8)
        }
        _ = follower.onDeclarationsSeen(declarations, now: .zero + .milliseconds(100))
        _ = follower.onDeadline(now: .zero + .seconds(1))
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: declarations))
        let actions = follower.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(1100))
        #expect(actions == [.failed(.leftOut(leader: Self.peer(1), step: 9))])
    }

    @Test func aLatePeerDoesNotLeadPeersAlreadyInAnotherPlanAndIsLeftOut() throws {
        // Peer 1 declares after peers 2 and 3 formed their group. As the lowest id it would lead
        // them, but their plan shows they average without it.
        var settings = Matchmaker.Settings(elementCount: 100)
        settings.gatherWindow = .seconds(1)
        settings.expectedGroupSize = 3
        var late = Matchmaker(peer: Self.peer(1), address: "127.0.0.1:1", clientMode: false, settings: settings)
        _ = late.onReady(step: 9, samples: 8, bandwidth: 1, now: .zero)
        let others = [Self.peer(2), Self.peer(3)].map {
            Declaration(step: 9, peer: $0, address: "127.0.0.1:2", bandwidth: 1, clientMode: false, samples: 8)
        }
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: others))
        #expect(late.onPlan(plan, from: Self.peer(2), now: .zero + .milliseconds(50)).isEmpty)
        // It gives up at once rather than at the end of its window: with rounds shorter than the
        // window, a late peer that waits it out is late again for every later step.
        #expect(late.onDeclarationsSeen(others, now: .zero + .milliseconds(100)) == [.failed(.leftOut(leader: Self.peer(2), step: 9))])
    }

    static func declarations(_ bytes: [UInt8], step: UInt64 = 9) -> [Declaration] {
        bytes.map { Declaration(step: step, peer: peer($0), address: "127.0.0.1:\($0)", bandwidth: 1, clientMode: false, samples: 8) }
    }

    static func lateMatchmaker(_ byte: UInt8) -> Matchmaker {
        var settings = Matchmaker.Settings(elementCount: 100)
        settings.gatherWindow = .seconds(1)
        var matchmaker = Matchmaker(peer: peer(byte), address: "127.0.0.1:\(byte)", clientMode: false, settings: settings)
        _ = matchmaker.onReady(step: 9, samples: 8, bandwidth: 1, now: .zero)
        return matchmaker
    }

    @Test func latePeersDoNotGatherASecondGroupSmallerThanTheOneThatFormed() throws {
        // Peers 1–3 formed the step's group; peers 4 and 5 declared after. A group of the two
        // would step from the same state to another, lose the state election to the three, and
        // download; left out, they replay the three's update instead.
        var late = Self.lateMatchmaker(4)
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([1, 2, 3])))
        #expect(late.onDeclarationsSeen(Self.declarations([1, 2, 3, 5]), now: .zero + .milliseconds(50)).isEmpty)
        #expect(late.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(60)).isEmpty)
        #expect(late.onDeclarationsSeen(Self.declarations([1, 2, 3, 5]), now: .zero + .milliseconds(100)).isEmpty)
        #expect(late.onDeadline(now: .zero + .seconds(1)) == [.failed(.leftOut(leader: Self.peer(1), step: 9))])
    }

    @Test func latePeersAsManyAsTheGroupThatFormedGatherTheirOwn() throws {
        var late = Self.lateMatchmaker(4)
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([1, 2])))
        #expect(late.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(60)).isEmpty)
        #expect(late.onDeclarationsSeen(Self.declarations([1, 2, 5]), now: .zero + .milliseconds(100)).isEmpty)
        let actions = late.onDeadline(now: .zero + .seconds(1))
        #expect(actions.contains { if case .groupFormed(let plan) = $0 { plan.members.map(\.peer) == [Self.peer(4), Self.peer(5)] } else { false } })
    }

    @Test func aPlanWithMembersThatNeverDeclaredTakesNobody() throws {
        // Identity 7 never declared: the plan could be anyone's invention, so peer 2 stays a
        // candidate (its author, peer 1, leads others, not peer 4), and peer 2 leads.
        var late = Self.lateMatchmaker(4)
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([1, 2, 7])))
        #expect(late.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(60)).isEmpty)
        #expect(late.onDeclarationsSeen(Self.declarations([1, 2, 5]), now: .zero + .milliseconds(100)).isEmpty)
        let deadline = MonotonicInstant.zero + .seconds(1)
        #expect(late.onDeadline(now: deadline) == [.wake(at: deadline + Matchmaker.Settings(elementCount: 100).planTimeout)],
                "peer 2 leads; peer 4 waits for its plan")
    }

    @Test func aPlanOfALeaderThatNeverDeclaredLeavesNobodyOut() throws {
        // Identity 0 lists five honest peers as they declared and itself, which never declared:
        // without the check, peer 1 would see a group of five formed without it and give up
        // its step, and three such plans would leave every honest peer out.
        var honest = Self.lateMatchmaker(1)
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([0, 3, 4, 5, 6])))
        #expect(honest.onPlan(plan, from: Self.peer(0), now: .zero + .milliseconds(60)).isEmpty)
        #expect(honest.onDeclarationsSeen(Self.declarations([2, 3, 4, 5, 6]), now: .zero + .milliseconds(100)).isEmpty)
        let actions = honest.onDeadline(now: .zero + .seconds(1))
        #expect(actions.contains { if case .groupFormed(let plan) = $0 { plan.members.count == 6 } else { false } })
    }

    @Test func aPlanListingPeersOtherwiseThanTheyDeclaredTakesNobody() throws {
        var honest = Self.lateMatchmaker(1)
        var forged = Self.declarations([2, 3, 4])
        forged[1].samples = 4_096
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: forged))
        #expect(honest.onPlan(plan, from: Self.peer(2), now: .zero + .milliseconds(60)).isEmpty)
        #expect(honest.onDeclarationsSeen(Self.declarations([2, 3, 4]), now: .zero + .milliseconds(100)).isEmpty)
        // Peers 3 and 4 stay candidates; only the plan's author leads others.
        let actions = honest.onDeadline(now: .zero + .seconds(1))
        #expect(actions.contains { if case .groupFormed(let plan) = $0 { plan.members.map(\.peer) == [Self.peer(1), Self.peer(3), Self.peer(4)] } else { false } })
    }

    @Test func aLeftOutPeerNamesTheLargestGroupsLeaderWhateverPlanItReadLast() throws {
        var late = Self.lateMatchmaker(7)
        _ = late.onDeclarationsSeen(Self.declarations([2, 3, 4, 5, 6]), now: .zero + .milliseconds(50))
        let large = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([2, 3, 4])))
        let small = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([5, 6])))
        #expect(late.onPlan(large, from: Self.peer(2), now: .zero + .milliseconds(60)).isEmpty)
        #expect(late.onPlan(small, from: Self.peer(5), now: .zero + .milliseconds(61)).isEmpty)
        #expect(late.onDeclarationsSeen([], now: .zero + .milliseconds(100)) == [.failed(.leftOut(leader: Self.peer(2), step: 9))])
        #expect(Set(late.largestOtherGroupMembers) == [Self.peer(2), Self.peer(3), Self.peer(4)])
    }

    @Test func aPlanSmallerThanAnotherGroupSeenIsNotFollowed() throws {
        var follower = Self.lateMatchmaker(5)
        _ = follower.onDeclarationsSeen(Self.declarations([1, 2, 3, 4]), now: .zero + .milliseconds(50))
        let large = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([1, 2, 3])))
        #expect(follower.onPlan(large, from: Self.peer(1), now: .zero + .milliseconds(60)).isEmpty)
        let small = try #require(GroupPlan(step: 9, elementCount: 100, members: Self.declarations([4, 5])))
        #expect(follower.onPlan(small, from: Self.peer(4), now: .zero + .milliseconds(70)) == [.failed(.leftOut(leader: Self.peer(1), step: 9))])
    }

    @Test func aPlanOfPeersItNeverSawDeclareDoesNotEndTheGatheringEarly() throws {
        // Anyone can publish a plan under its own name. One that lists only its author and an
        // identity nobody saw declare must not make every honest peer give up its step.
        var settings = Matchmaker.Settings(elementCount: 100)
        settings.gatherWindow = .seconds(1)
        var honest = Matchmaker(peer: Self.peer(3), address: "127.0.0.1:3", clientMode: false, settings: settings)
        _ = honest.onReady(step: 9, samples: 8, bandwidth: 1, now: .zero)
        let forged = [Self.peer(1), Self.peer(2)].map {
            Declaration(step: 9, peer: $0, address: "127.0.0.1:1", bandwidth: 1, clientMode: false, samples: 8)
        }
        let plan = try #require(GroupPlan(step: 9, elementCount: 100, members: forged))
        #expect(honest.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(50)).isEmpty)
        #expect(honest.onDeclarationsSeen([forged[0]], now: .zero + .milliseconds(60)).isEmpty, "the author's own declaration")
        let partner = Declaration(step: 9, peer: Self.peer(4), address: "127.0.0.1:4", bandwidth: 1, clientMode: false, samples: 8)
        _ = honest.onDeclarationsSeen([partner], now: .zero + .milliseconds(100))
        let actions = honest.onDeadline(now: .zero + .seconds(1))
        #expect(actions.contains { if case .groupFormed(let plan) = $0 { plan.members.map(\.peer) == [Self.peer(3), Self.peer(4)] } else { false } })
    }

    /// The group keeps only the lowest ids in order (every read of a large run asks for it); it
    /// must be the group of the whole sorted list: the lowest id accepting connections leads,
    /// with the lowest other ids.
    @Test(arguments: [1, 2, 5, 64, 200]) func theGroupIsTheLeaderAndTheLowestOtherIdsAsInTheSortedList(count: Int) {
        var random = SeededRandom(seed: UInt64(count))
        for maxSize in [2, 3, 64] {
            for clientShare in [0.0, 0.5, 0.97, 1.0] {
                let candidates = (0..<count).map { _ in
                    declaration(PeerID(words: (random.next() % 1_000, random.next(), 0, 0)),
                                clientMode: Double(random.next() % 1_000) / 1_000 < clientShare)
                }
                let sorted = candidates.sorted { $0.peer < $1.peer }
                let expected: (leader: PeerID, members: [Declaration])? = sorted.first { !$0.clientMode }.map { leader in
                    (leader.peer, [leader] + sorted.filter { $0.peer != leader.peer }.prefix(maxSize - 1))
                }
                let group = Matchmaker.group(of: candidates, maxSize: maxSize)
                #expect(group?.leader == expected?.leader && group?.members == expected?.members,
                        "\(count) candidates, groups of \(maxSize), client share \(clientShare)")
            }
        }
    }

    /// A matchmaker of `peer` gathering for step 41 with a one-second window, and its declaration.
    static func gathering(_ peer: UInt8) -> (Matchmaker, Declaration) {
        var settings = Matchmaker.Settings(elementCount: 100)
        settings.gatherWindow = .seconds(1)
        var matchmaker = Matchmaker(peer: Self.peer(peer), address: "10.0.0.1:7000", clientMode: false, settings: settings)
        let actions = matchmaker.onReady(step: 41, samples: 32, bandwidth: 1_000_000, now: .zero)
        guard case .publishDeclaration(let own) = actions.first else { preconditionFailure("no declaration in \(actions)") }
        return (matchmaker, own)
    }

    /// The record a peer stores when it leaves the step's matchmaking without a group.
    static func withdrawal(of declaration: Declaration) -> Declaration {
        var withdrawal = declaration
        withdrawal.samples = 0
        return withdrawal
    }

    /// A peer that left the step's matchmaking without a group stores its declaration again with
    /// no samples. Counted after that, its declaration had a later peer plan a group around it
    /// that only part of it joined, which stepped on a branch of its own.
    @Test func aWithdrawnDeclarationNoLongerCountsForTheGroup() {
        var (leader, _) = Self.gathering(1)
        let partner = declaration(Self.peer(2)), gone = declaration(Self.peer(3))
        #expect(leader.onDeclarationsSeen([partner, gone], now: .zero + .milliseconds(100)) == [])
        #expect(leader.onDeclarationsSeen([partner, Self.withdrawal(of: gone)], now: .zero + .milliseconds(200)) == [])
        let actions = leader.onDeadline(now: .zero + .seconds(1))
        #expect(actions.contains { if case .groupFormed(let plan) = $0 { plan.members.map(\.peer) == [Self.peer(1), Self.peer(2)] } else { false } },
                "\(actions)")
    }

    /// A plan fixed before one of its members withdrew is still one of peers that declared,
    /// whether this member read that declaration before the withdrawal or never: refusing the
    /// plan, it would go silent on the leader, which would exclude it. The withdrawn peer is an
    /// absent sender of the round.
    @Test(arguments: [true, false]) func aPlanListingAPeerThatWithdrewIsStillFollowed(readBeforeTheWithdrawal: Bool) {
        var (member, own) = Self.gathering(2)
        let leader = declaration(Self.peer(1)), gone = declaration(Self.peer(3))
        if readBeforeTheWithdrawal {
            _ = member.onDeclarationsSeen([leader, gone], now: .zero + .milliseconds(100))
        }
        _ = member.onDeclarationsSeen([leader, Self.withdrawal(of: gone)], now: .zero + .milliseconds(200))
        let plan = GroupPlan(step: 41, elementCount: 100, members: [leader, own, gone])!
        #expect(member.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(300)) == [.groupFormed(plan)])
    }

    /// Withdrawals tell everyone who is gone. A plan of such peers under a low id must not take
    /// a reader's company away: counted as another group, it had every reader with fewer
    /// candidates give the step up as left out.
    @Test func aPlanOfPeersThatWithdrewIsNotAnotherGroup() {
        var (reader, _) = Self.gathering(4)
        let attacker = declaration(Self.peer(1)), gone = [declaration(Self.peer(2)), declaration(Self.peer(3))]
        let partner = declaration(Self.peer(5))
        _ = reader.onDeclarationsSeen([attacker, partner] + gone, now: .zero + .milliseconds(100))
        let withdrawals = gone.map(Self.withdrawal(of:))
        _ = reader.onDeclarationsSeen([attacker, partner] + withdrawals, now: .zero + .milliseconds(200))
        let plan = GroupPlan(step: 41, elementCount: 100, members: [attacker] + gone)!
        #expect(reader.onPlan(plan, from: Self.peer(1), now: .zero + .milliseconds(300)) == [])
        _ = reader.onDeclarationsSeen([attacker, partner] + withdrawals, now: .zero + .milliseconds(400))
        let actions = reader.onDeadline(now: .zero + .seconds(1))
        #expect(!actions.contains { if case .failed = $0 { true } else { false } }, "\(actions)")
    }
}
