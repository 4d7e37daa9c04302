import CohortBase
import DHT
import Testing
import Wire

@Suite struct RoutingTableTests {
    let own = Fixtures.randomIDs(1, seed: 1)[0]

    /// Peers at random points of bucket `bucket`.
    private func ids(inBucket bucket: Int, count: Int, table: RoutingTable) -> [PeerID] {
        var generator = SplitMix64(seed: UInt64(bucket))
        return (0..<count).map { _ in PeerID(words: table.randomID(inBucket: bucket, using: &generator).words) }
    }

    @Test func bucketIndexIsTheHighestDifferingBit() {
        let table = RoutingTable(ownID: own)
        #expect(table.bucketIndex(of: DHTID(own)) == nil)
        #expect(table.bucketIndex(of: DHTID(own).distance(to: DHTID(words: (0, 0, 0, 1)))) == 0)
        #expect(table.bucketIndex(of: DHTID(own).distance(to: DHTID(words: (1 << 63, 0, 0, 0)))) == 255)
        for bucket in [0, 63, 64, 200, 255] {
            for id in ids(inBucket: bucket, count: 5, table: table) {
                #expect(table.bucketIndex(of: DHTID(id)) == bucket)
            }
        }
    }

    @Test func fullBucketAsksToPingItsLeastRecentlySeenContact() {
        var table = RoutingTable(ownID: own, bucketSize: 4)
        let members = ids(inBucket: 250, count: 6, table: table).map { Fixtures.contact($0) }
        for contact in members.prefix(4) { #expect(table.observe(contact) == .added) }
        #expect(table.observe(members[0]) == .refreshed)
        #expect(table.observe(members[4]) == .pingStale(members[1]))
        #expect(table.observe(members[5]) == .ignored, "one stale ping per bucket at a time")
        #expect(!table.contains(members[4].id))
    }

    @Test func staleContactThatAnswersStaysAndTheNewcomerWaits() {
        var table = RoutingTable(ownID: own, bucketSize: 2)
        let members = ids(inBucket: 250, count: 3, table: table).map { Fixtures.contact($0) }
        _ = table.observe(members[0])
        _ = table.observe(members[1])
        #expect(table.observe(members[2]) == .pingStale(members[0]))
        table.onStaleAnswered(members[0].id)
        #expect(table.contains(members[0].id))
        #expect(!table.contains(members[2].id))
        // members[1] is now the least recently seen.
        #expect(table.observe(Fixtures.contact(ids(inBucket: 250, count: 4, table: table)[3])) == .pingStale(members[1]))
    }

    @Test func staleContactThatFailsIsReplacedByTheNewcomer() {
        var table = RoutingTable(ownID: own, bucketSize: 2)
        let members = ids(inBucket: 250, count: 3, table: table).map { Fixtures.contact($0) }
        _ = table.observe(members[0])
        _ = table.observe(members[1])
        _ = table.observe(members[2])
        #expect(table.onContactFailed(members[0].id) == members[2])
        #expect(!table.contains(members[0].id))
        #expect(table.contains(members[2].id))
    }

    @Test func contactWithoutReplacementIsDroppedAfterRepeatedFailures() {
        var table = RoutingTable(ownID: own, bucketSize: 20, maxFailures: 3)
        let contact = Fixtures.contact(ids(inBucket: 100, count: 1, table: table)[0])
        _ = table.observe(contact)
        table.onContactFailed(contact.id)
        table.onContactFailed(contact.id)
        #expect(table.contains(contact.id))
        table.onContactFailed(contact.id)
        #expect(!table.contains(contact.id))
    }

    @Test func hearingFromAContactForgivesItsFailures() {
        var table = RoutingTable(ownID: own, bucketSize: 20, maxFailures: 2)
        let contact = Fixtures.contact(ids(inBucket: 100, count: 1, table: table)[0])
        _ = table.observe(contact)
        table.onContactFailed(contact.id)
        _ = table.observe(contact)
        table.onContactFailed(contact.id)
        #expect(table.contains(contact.id))
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func closestMatchesBruteForce(seed: UInt64) {
        var table = RoutingTable(ownID: own, bucketSize: 8)
        for id in Fixtures.randomIDs(500, seed: seed) { _ = table.observe(Fixtures.contact(id)) }
        let held = table.contacts.map(\.id)
        var targets = Fixtures.randomKeys(30, seed: seed + 100) + [DHTID(own)]
        targets += held.prefix(5).map(DHTID.init)
        for target in targets {
            for count in [1, 8, 20, 1000] {
                #expect(table.closest(to: target, count: count).map(\.id) == Fixtures.bruteForceClosest(held, to: target, count: count))
            }
        }
        let excluded = held[0]
        #expect(!table.closest(to: DHTID(excluded), count: 20, excluding: excluded).contains { $0.id == excluded })
    }

    @Test func bucketsNotLookedUpWithinTheIntervalAreDueForRefresh() {
        var table = RoutingTable(ownID: own, now: .at(0))
        #expect(table.bucketsDueForRefresh(now: .at(10_000), interval: .seconds(1)).isEmpty, "an empty table has nothing to refresh")
        for bucket in [250, 253, 255] {
            _ = table.observe(Fixtures.contact(ids(inBucket: bucket, count: 1, table: table)[0]))
        }
        #expect(table.bucketsDueForRefresh(now: .at(500), interval: .seconds(1)).isEmpty)
        #expect(table.bucketsDueForRefresh(now: .at(1_000), interval: .seconds(1)) == Array(250...255))
        table.touchBucket(of: DHTID(ids(inBucket: 253, count: 1, table: table)[0]), now: .at(1_000))
        #expect(table.bucketsDueForRefresh(now: .at(1_500), interval: .seconds(1)) == [250, 251, 252, 254, 255])
    }
}
