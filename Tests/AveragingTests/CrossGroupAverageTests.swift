import CohortBase
import Testing
@testable import Averaging

/// The members of a step's groups through their second stage, with the DHT a pair of arrays.
@Suite struct CrossGroupAverageTests {
    static let plans = [StepGroupListTests.plan([1, 2, 3], bandwidths: [100, 300, 200]), StepGroupListTests.plan([4, 5], bandwidths: [50, 50]),
                        StepGroupListTests.plan([6, 7, 8, 9], bandwidths: [10, 10, 10, 10])]
    static let deadline = MonotonicInstant.zero + .seconds(30)

    struct Step {
        var members: [PeerID: CrossGroupAverage] = [:]
        var listings: [(leader: PeerID, listing: GroupListing)] = []
        var lists: [(writer: PeerID, list: StepGroupList)] = []
        var started: [PeerID: [SecondStageRound]] = [:]
        var finished: [PeerID: UInt64] = [:]

        init(plans: [GroupPlan]) {
            for plan in plans {
                for member in plan.members { members[member.peer] = CrossGroupAverage(plan: plan, peer: member.peer, deadline: CrossGroupAverageTests.deadline) }
            }
        }

        mutating func handle(_ actions: [CrossGroupAverage.Action], of peer: PeerID, now: MonotonicInstant) {
            for action in actions {
                switch action {
                case .publishListing(let listing): listings.append((peer, listing))
                case .readListings: handle(members[peer]!.onListingsRead(listings), of: peer, now: now)
                case .publishList(let list): lists.append((peer, list))
                case .readList: handle(members[peer]!.onListRead(lists: lists, listings: listings, now: now), of: peer, now: now)
                case .wake: break
                case .startRound(let round): started[peer, default: []].append(round)
                case .finished(let skipping):
                    #expect(finished[peer] == nil, "\(peer) finished twice")
                    finished[peer] = skipping
                }
            }
        }

        /// Every leader lists its group and looks at the others' listings after its window; the
        /// listings of `late` leaders are stored only after that.
        mutating func list(late: Set<PeerID> = []) {
            let all = members.keys.sorted()
            for peer in all { handle(members[peer]!.start(now: .zero), of: peer, now: .zero) }
            let withheld = listings.filter { late.contains($0.leader) }
            listings.removeAll { late.contains($0.leader) }
            let after = MonotonicInstant.zero + .seconds(2)
            for peer in all { handle(members[peer]!.onDeadline(now: after), of: peer, now: after) }
            listings += withheld
        }

        mutating func reduce(_ peers: [PeerID], at now: MonotonicInstant = .zero + .seconds(3)) {
            for peer in peers { handle(members[peer]!.onPartReduced(now: now), of: peer, now: now) }
        }

        var owners: [PeerID] { members.keys.filter { members[$0]!.ownGridParts != 0 }.sorted() }
    }

    static func result(of round: SecondStageRound, failing: Bool = false) -> AllReduceResult {
        AllReduceResult(roundID: round.plan.id, participants: round.plan.members.map(\.peer), leftOut: [], totalSamples: 1, bytesSent: 0,
                        bytesReceived: 0, duration: .zero, failedParts: failing ? [0..<1] : [], silent: [])
    }

    @Test func everyOwnerRunsTheRoundsOfItsGridPartsAndEachRoundsMembersAllStartIt() throws {
        var step = Step(plans: Self.plans)
        step.list()
        #expect(step.lists.map(\.writer) == [peerID(1)], "the lowest leader lists the step")
        step.reduce(step.owners)
        var startedBy: [UInt64: Set<PeerID>] = [:]
        for (peer, rounds) in step.started {
            #expect(rounds.map(\.gridParts).reduce(0, |) == step.members[peer]!.ownGridParts)
            for round in rounds { startedBy[round.plan.id, default: []].insert(peer) }
        }
        let rounds = Dictionary(step.started.values.flatMap { $0 }.map { ($0.plan.id, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(rounds.count == 6)
        for (id, round) in rounds { #expect(startedBy[id] == Set(round.plan.members.map(\.peer))) }
        // One round fails: every owner in it, in every group, skips its grid parts.
        let failing = try #require(rounds.values.min { $0.elements.lowerBound < $1.elements.lowerBound })
        let now = MonotonicInstant.zero + .seconds(5)
        for (peer, mine) in step.started {
            for round in mine {
                step.handle(step.members[peer]!.onRoundFinished(Self.result(of: round, failing: round.plan.id == failing.plan.id), now: now),
                            of: peer, now: now)
            }
        }
        for peer in step.owners {
            let inFailing = failing.plan.index(of: peer) != nil
            #expect(step.finished[peer] == (inFailing ? failing.gridParts : 0), "\(peer)")
        }
    }

    @Test func aGroupNotOnTheListGivesTheStepUp() {
        var step = Step(plans: Self.plans)
        // The third group's listing came too late for the list.
        let late = Self.plans[2]
        step.list(late: [late.leader])
        step.reduce(step.owners)
        for member in late.members where step.members[member.peer]!.ownGridParts != 0 {
            #expect(step.finished[member.peer] == step.members[member.peer]!.ownGridParts)
            #expect(step.started[member.peer] == nil)
        }
        #expect(step.started[peerID(1)]?.isEmpty == false)
    }

    @Test func anOwnerWithoutAListLooksAgainAndSkipsItsPartAtTheDeadline() {
        var member = CrossGroupAverage(plan: Self.plans[0], peer: peerID(2), deadline: Self.deadline)
        #expect(member.onPartReduced(now: .zero) == [.readList])
        #expect(member.onListRead(lists: [], listings: [], now: .zero) == [.wake(at: .zero + .milliseconds(500))])
        #expect(member.onDeadline(now: .zero + .milliseconds(500)) == [.readList])
        #expect(member.onListRead(lists: [], listings: [], now: .zero + .milliseconds(29_900)) == [.finished(skipping: member.ownGridParts)])
    }

    @Test func anOwnerWhoseLeaderListedSomethingElseSkipsItsPart() throws {
        var step = Step(plans: Self.plans)
        step.list()
        // The first leader's listing as stored is not the plan's: its owners cannot trust
        // rounds derived from it.
        let honest = step.listings[0].listing
        let forged = GroupListing(step: 41, planID: honest.planID, memberCount: honest.memberCount, weight: honest.weight,
                                  owners: honest.owners, gridOwners: [0] + honest.gridOwners.dropLast())
        let list = try #require(StepGroupList.compose(by: peerID(1), step: 41, listings: [(peerID(1), forged)] + step.listings.dropFirst()))
        step.lists = [(peerID(1), list)]
        step.listings[0] = (peerID(1), forged)
        step.reduce([peerID(2)])
        #expect(step.finished[peerID(2)] == step.members[peerID(2)]!.ownGridParts)
    }

    @Test func oneGroupNeedsNoSecondStageAndOnlyLeadersList() {
        var step = Step(plans: [Self.plans[1]])
        #expect(step.members[peerID(5)]!.start(now: .zero).isEmpty)
        step.list()
        step.reduce(step.owners)
        #expect(step.owners.allSatisfy { step.finished[$0] == 0 })
        #expect(step.started.isEmpty)
    }
}
