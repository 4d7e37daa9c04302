import CohortBase
import Averaging
import DHT
import Testing
@testable import Collaboration

/// A volunteer in a run of several shards: it reads its own shard's records and the other
/// shards' totals, and its shard's lowest ids report the shard's total.
@Suite struct VolunteerSessionShardTests {
    typealias Harness = VolunteerSessionHarness
    static let shards = try! RunShards(count: 4)
    static let people = Harness.identities(60, seed: 23)
    /// The highest id of shard 0, and three lower ids of the same shard.
    static let me = people.filter { shards.shard(of: $0.peerID) == 0 }.max { $0.peerID < $1.peerID }!
    static let lowerInMyShard = people.filter { shards.shard(of: $0.peerID) == 0 && $0.peerID < me.peerID }.prefix(3)
    static let inShardTwo = people.first { shards.shard(of: $0.peerID) == 2 }!

    static func started(targetBatch: Int = 1_000) -> Harness {
        VolunteerSessionTests.started(me, targetBatch: targetBatch) { $0.shards = shards }
    }

    static func total(shard: Int, step: Int, peers: Int, samples: Int, at now: WallClockInstant) -> ShardTotal {
        ShardTotal(shard: shard, timestampMilliseconds: now.millisecondsSinceEpoch,
                   steps: [.init(step: step, peers: peers, recentPeers: 0, samples: samples, samplesPerSecond: 10)], peersBelow: 0)
    }

    /// For each `(shard, peers)`, a total of that many peers at step 0 written by a peer of the shard.
    static func reporterTotals(_ shards: [(shard: Int, peers: Int)], samplesPerPeer: Int, at now: WallClockInstant) -> [OwnedRecord<ShardTotal>] {
        shards.map { shard, peers in
            OwnedRecord(writer: people.first { Self.shards.shard(of: $0.peerID) == shard }!.peerID,
                        value: total(shard: shard, step: 0, peers: peers, samples: samplesPerPeer * peers, at: now))
        }
    }

    /// `peer`'s declaration for step 0.
    static func declaration(of peer: PeerIdentity) -> Declaration {
        Declaration(step: 0, peer: peer.peerID, address: "127.0.0.1:7001", bandwidth: 100_000_000, clientMode: false, samples: 8)
    }

    @Test func aPeerAmongItsShardsLowestIdsPublishesTheShardsTotal() throws {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        let cycle = harness.feed(.connectivityChecked(.connected))
        let totals = cycle.compactMap { if case .publishShardTotal(let total, _) = $0 { total } else { nil } }
        let total = try #require(totals.first, "alone in its shard, it is one of the shard's reporters: \(cycle)")
        #expect(total.shard == 0)
        #expect(total.steps.map(\.step) == [0] && total.peers == 1)
        #expect(total.steps[0].samples == harness.session.accumulatedSamples)
    }

    @Test func aPeerAboveItsShardsLowestIdsPublishesNoTotal() {
        var harness = Self.started()
        for peer in Self.lowerInMyShard { harness.progress(of: peer, step: 0, samples: 1) }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        #expect(harness.feed(.progressRead(harness.progressRecords())) == [.train])
        _ = harness.trainUntilItLooksAtTheRun()
        let cycle = harness.feed(.connectivityChecked(.connected))
        #expect(!cycle.contains { if case .publishShardTotal = $0 { true } else { false } }, "three lower ids report: \(cycle)")
    }

    @Test func theOtherShardsTotalsCompleteTheBatch() {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        // Shard 2 has the rest of the batch: the run's batch is complete, though this shard's
        // own records are far from it.
        let full = Self.total(shard: 2, step: 0, peers: 1, samples: 1_000, at: harness.now.wall)
        #expect(harness.feed(.progressRead([], totals: [OwnedRecord(writer: Self.inShardTwo.peerID, value: full)]))
            == [.readStateAnnouncements])
    }

    @Test func aTotalWrittenForAnotherShardThanItsWritersCountsNothing() {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        let forged = Self.total(shard: 1, step: 0, peers: 1, samples: 1_000, at: harness.now.wall)
        #expect(harness.feed(.progressRead([], totals: [OwnedRecord(writer: Self.inShardTwo.peerID, value: forged)])) == [.train])
    }

    @Test func aPeerOfALargeRunDeclaresAndReadsInItsShardsBucket() throws {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        // Three other shards of 50 peers each at step 0, with the batch complete: 151 peers, so
        // four buckets (at least 32 declarers each), one per shard.
        let totals = Self.reporterTotals([(1, 50), (2, 50), (3, 50)], samplesPerPeer: 8, at: harness.now.wall)
        #expect(harness.feed(.progressRead([], totals: totals)) == [.readStateAnnouncements])
        let gathering = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        let keys = gathering.compactMap { if case .publishDeclaration(_, let key) = $0 { key } else { nil } }
        #expect(keys.map(\.buckets) == [4] && keys.map(\.bucket) == [0], "\(gathering)")
        guard case .sleep(let until) = gathering.last else {
            Issue.record("expected a wait for the others' declarations, got \(gathering)")
            return
        }
        harness.clock.advance(to: until)
        #expect(harness.feed(.woke) == [.readMatchmaking(keys[0])])
    }

    @Test func aLeaderFixesItsGroupOnceItsBucketsOwnPeersDeclaredNotAnEvenShareOfTheRun() throws {
        // Shards 0 and 2 make bucket 0 of 2. This peer is the bucket's lowest id; its own shard
        // has no one else, the bucket's other shard and shards 1 and 3 have 22 peers each: 67 in
        // the run, an even share of 34, but the bucket's own count 23.
        let bucketPeople = Self.people.filter { Self.shards.shard(of: $0.peerID) % 2 == 0 }.sorted { $0.peerID < $1.peerID }
        let leader = bucketPeople[0]
        var harness = VolunteerSessionTests.started(leader, targetBatch: 1_000) { $0.shards = Self.shards }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        let otherBucketShard = Self.shards.shard(of: leader.peerID) == 0 ? 2 : 0
        let totals = Self.reporterTotals([(otherBucketShard, 22), (1, 22), (3, 22)], samplesPerPeer: 20, at: harness.now.wall)
        _ = harness.feed(.progressRead([], totals: totals))
        var directives = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        let key = try #require(directives.compactMap { if case .publishDeclaration(_, let key) = $0 { key } else { nil } }.first)
        #expect(key.buckets == 2 && key.bucket == 0)
        try #require(bucketPeople.count >= 23)
        for peer in bucketPeople.dropFirst().prefix(22) {
            harness.store(Harness.keys.declarations(key), Self.declaration(of: peer).encoded(), by: peer)
        }
        guard case .sleep(let until) = directives.last else {
            Issue.record("expected a wait for the others' declarations, got \(directives)")
            return
        }
        harness.clock.advance(to: until)
        directives = harness.feed(.woke)
        #expect(directives == [.readMatchmaking(key)])
        // 23 declared, this one among them and lowest: it leads at once, before the window closes.
        directives = harness.feed(harness.matchmakingRead(key))
        let plan = try #require(directives.compactMap { if case .publishPlan(let plan, _) = $0 { plan } else { nil } }.first, "\(directives)")
        #expect(plan.members.count == 23 && plan.onGrid)
    }

    @Test func aDeclarationInABucketOfOtherShardsDoesNotCount() throws {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        let totals = Self.reporterTotals([(1, 50), (2, 50), (3, 50)], samplesPerPeer: 8, at: harness.now.wall)
        _ = harness.feed(.progressRead([], totals: totals))
        var directives = harness.feed(.stateAnnouncementsRead(harness.announcements()))
        let key = try #require(directives.compactMap { if case .publishDeclaration(_, let key) = $0 { key } else { nil } }.first)
        // The lowest id of shard 1 declares in shard 0's bucket too, as it could in every bucket.
        let outsider = try #require(Self.people.filter { Self.shards.shard(of: $0.peerID) == 1 }.min { $0.peerID < $1.peerID })
        harness.store(Harness.keys.declarations(key), Self.declaration(of: outsider).encoded(), by: outsider)
        let declared = harness.now.monotonic
        for _ in 0..<40 {
            switch directives.last {
            case .sleep(let until):
                harness.clock.advance(to: until)
                directives = harness.feed(.woke)
            case .readMatchmaking(let key):
                directives = harness.feed(harness.matchmakingRead(key))
            default:
                // Nobody of its bucket declared: it gives the attempt up when the window closes,
                // instead of waiting for the outsider's plan, and does not step alone either
                // (alone in its bucket is not alone in the run).
                let settings = harness.session.settings
                #expect(harness.now.monotonic < declared + settings.gatherWindow + settings.planTimeout)
                #expect(harness.notes.contains { if case .couldNotAverage(_, .noOtherPeer) = $0 { true } else { false } }, "\(harness.notes)")
                #expect(directives.contains(.discardGradients) && !directives.contains { if case .applyUpdate = $0 { true } else { false } },
                        "\(directives)")
                return
            }
        }
        Issue.record("still gathering: \(directives)")
    }

    @Test func aStateMostOfTheRunHoldsInAnotherShardIsLoadedFromThatShardsDonors() throws {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        // Shard 2's five peers are at step 3 and hold state 7; nobody of this shard announced it.
        let now = harness.now.wall
        var ahead = Self.total(shard: 2, step: 3, peers: 5, samples: 0, at: now)
        ahead.states = [.init(step: 3, hash: Harness.hash(7), voters: 5)]
        let behind = harness.feed(.progressRead([], totals: [OwnedRecord(writer: Self.inShardTwo.peerID, value: ahead)]))
        #expect(behind.last == .readStateAnnouncements)
        #expect(harness.feed(.stateAnnouncementsRead([])) == [.readDonors(shard: 2)])
        let donor = StateAnnouncement(step: 3, stateHash: Harness.hash(7), stateBytes: Harness.stateBytes, host: "10.0.0.2", port: 7100,
                                      timestampMilliseconds: now.millisecondsSinceEpoch)
        let other = StateAnnouncement(step: 3, stateHash: Harness.hash(8), stateBytes: Harness.stateBytes, host: "10.0.0.3", port: 7100,
                                      timestampMilliseconds: now.millisecondsSinceEpoch)
        let loading = harness.feed(.stateAnnouncementsRead([OwnedRecord(writer: Self.inShardTwo.peerID, value: donor),
                                                            OwnedRecord(writer: Self.people[0].peerID, value: other)]))
        let donors: [VolunteerSession.StateDonor]
        switch loading.last {
        case .replayUpdates(_, _, 3, Harness.hash(7), let offered)?: donors = offered
        case .downloadState(3, Harness.hash(7), let offered)?: donors = offered
        default: Issue.record("expected state 7 of step 3 to be loaded, got \(loading)"); return
        }
        #expect(donors.map(\.peer) == [Self.inShardTwo.peerID], "only that state's holders serve it")
    }

    @Test func aReportersTotalTellsOfTheStateItsRoundReachedNotTheOneBefore() throws {
        var harness = Self.started()
        // Three of the shard held the initial state; this peer and one of them averaged with a
        // peer of shard 2 and now hold state 5 of step 1.
        harness.session.stateTallies = [.init(step: 0, hash: Harness.hash(0), voters: 3)]
        harness.session.moveStateTallies(with: [Self.me.peerID, Self.lowerInMyShard.first!.peerID, Self.inShardTwo.peerID],
                                         to: .init(step: 1, hash: Harness.hash(5), voters: 0))
        #expect(harness.session.stateTallies == [.init(step: 1, hash: Harness.hash(5), voters: 2), .init(step: 0, hash: Harness.hash(0), voters: 1)])
    }

    @Test func peersOfOtherShardsWritingUnderThisShardsKeyDoNotSilenceItsReporters() throws {
        var harness = Self.started()
        let intruders = Self.people.filter { Self.shards.shard(of: $0.peerID) != 0 && $0.peerID < Self.me.peerID }.prefix(3)
        #expect(intruders.count == 3)
        for peer in intruders { harness.progress(of: peer, step: 0, samples: 1) }
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        _ = harness.feed(.progressRead(harness.progressRecords()))
        _ = harness.trainUntilItLooksAtTheRun()
        let cycle = harness.feed(.connectivityChecked(.connected))
        #expect(cycle.contains { if case .publishShardTotal = $0 { true } else { false } }, "lower ids of other shards do not count here: \(cycle)")
    }

    @Test func aTotalNeverGivesAStateMoreVotersThanTheShardHasLivePeers() throws {
        var harness = Self.started()
        // Five of the shard announced state 3 at the last read; all but this peer left since.
        harness.session.stateTallies = [.init(step: 0, hash: Harness.hash(3), voters: 5)]
        _ = harness.trainUntilItLooksAtTheRun()
        let cycle = harness.feed(.connectivityChecked(.connected))
        let total = try #require(cycle.compactMap { if case .publishShardTotal(let total, _) = $0 { total } else { nil } }.first)
        #expect(total.states.map(\.voters) == [1])
        #expect(try ShardTotal(decoding: total.encoded) == total, "readers take it")
    }

    @Test func aShardWhoseTotalsVoteForAStateNoneOfItsPeersServesGivesWayToTheNext() throws {
        var harness = Self.started()
        _ = harness.trainUntilItLooksAtTheRun()
        _ = harness.feed(.connectivityChecked(.connected))
        let now = harness.now.wall
        let inShardThree = try #require(Self.people.first { Self.shards.shard(of: $0.peerID) == 3 })
        var liar = Self.total(shard: 2, step: 3, peers: 6, samples: 0, at: now)
        liar.states = [.init(step: 3, hash: Harness.hash(7), voters: 6)]
        var honest = Self.total(shard: 3, step: 3, peers: 4, samples: 0, at: now)
        honest.states = [.init(step: 3, hash: Harness.hash(7), voters: 4)]
        _ = harness.feed(.progressRead([], totals: [OwnedRecord(writer: Self.inShardTwo.peerID, value: liar),
                                                    OwnedRecord(writer: inShardThree.peerID, value: honest)]))
        #expect(harness.feed(.stateAnnouncementsRead([])) == [.readDonors(shard: 2)], "the shard of most votes first")
        // Shard 2's key holds no announcement of the state; an announcement there by a peer of
        // another shard does not count either.
        let elsewhere = StateAnnouncement(step: 3, stateHash: Harness.hash(7), stateBytes: Harness.stateBytes, host: "10.0.0.9",
                                          port: 7100, timestampMilliseconds: now.millisecondsSinceEpoch)
        #expect(harness.feed(.stateAnnouncementsRead([OwnedRecord(writer: inShardThree.peerID, value: elsewhere)])) == [.readDonors(shard: 3)])
        let served = harness.feed(.stateAnnouncementsRead([OwnedRecord(writer: inShardThree.peerID, value: elsewhere)]))
        switch served.last {
        case .replayUpdates(_, _, 3, Harness.hash(7), let donors)?, .downloadState(3, Harness.hash(7), let donors)?:
            #expect(donors.map(\.peer) == [inShardThree.peerID])
        default: Issue.record("expected state 7 to be loaded from shard 3, got \(served)")
        }
    }
}
