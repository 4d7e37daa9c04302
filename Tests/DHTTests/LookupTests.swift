import CohortBase
import DHT
import Testing
import Wire

/// A fully populated Kademlia network of routing tables, without messages: each node answers
/// a query with its own closest contacts.
private struct TableWorld {
    let ids: [PeerID]
    var tables: [PeerID: RoutingTable] = [:]

    init(count: Int, seed: UInt64) {
        ids = Fixtures.randomIDs(count, seed: seed)
        for id in ids {
            var table = RoutingTable(ownID: id)
            for other in ids { _ = table.observe(Fixtures.contact(other)) }
            tables[id] = table
        }
    }

    /// Drives `lookup` to the end, answering queries in order; `dead` never answer and
    /// `holders` return a record. Checks that no more than α queries are ever in flight.
    func drive(_ lookup: inout Lookup, dead: Set<PeerID> = [], holders: [PeerID: SignedRecord] = [:]) -> Lookup.Outcome? {
        var inFlight: [Contact] = []
        var steps = lookup.start()
        while true {
            for step in steps {
                switch step {
                case .query(let contact): inFlight.append(contact)
                case .finished(let outcome): return outcome
                }
            }
            #expect(inFlight.count <= 3)
            guard !inFlight.isEmpty else { return nil }
            let contact = inFlight.removeFirst()
            if dead.contains(contact.id) {
                steps = lookup.onFailure(from: contact.id)
            } else {
                let contacts = tables[contact.id]!.closest(to: lookup.target, count: 20)
                steps = lookup.onReply(from: contact.id, contacts: contacts, found: holders[contact.id].map { [$0] } ?? [])
            }
        }
    }
}

@Suite struct LookupTests {
    private static let world = TableWorld(count: 300, seed: 11)

    @Test(arguments: Fixtures.randomKeys(8, seed: 5))
    func nodeLookupConvergesOnTheKClosest(target: DHTID) throws {
        let world = Self.world
        let origin = world.ids[0]
        var lookup = Lookup(target: target, kind: .nodes, seeds: world.tables[origin]!.closest(to: target, count: 20), ownID: origin)
        let outcome = try #require(world.drive(&lookup))
        let expected = Fixtures.bruteForceClosest(world.ids.filter { $0 != origin }, to: target, count: 20)
        #expect(outcome.closest.map(\.id) == expected)
        #expect(outcome.hops >= 1 && outcome.hops <= 4)
    }

    /// The dead still fill half of every reply's k slots, so only the nearest live ones are
    /// sure to be seen; the lookup must find those and never return a dead contact.
    @Test func deadContactsAreSkippedAndTheClosestLiveOnesFound() throws {
        let world = Self.world
        let target = Fixtures.randomKeys(1, seed: 99)[0]
        let origin = world.ids[1]
        let dead = Set(Fixtures.bruteForceClosest(world.ids, to: target, count: 10))
        var lookup = Lookup(target: target, kind: .nodes, seeds: world.tables[origin]!.closest(to: target, count: 20), ownID: origin)
        let outcome = try #require(world.drive(&lookup, dead: dead))
        let alive = world.ids.filter { !dead.contains($0) && $0 != origin }
        #expect(Array(outcome.closest.map(\.id).prefix(10)) == Fixtures.bruteForceClosest(alive, to: target, count: 10))
        #expect(outcome.closest.count == 20)
        #expect(outcome.closest.allSatisfy { !dead.contains($0.id) })
    }

    @Test func valueLookupStopsOnceTheQuorumHasAnswered() throws {
        let world = Self.world
        let key = Fixtures.randomKeys(1, seed: 42)[0]
        let record = SignedRecord(key: key, subkey: [1], value: [2], expiry: 1, ownerPublicKey: [], signature: [])
        let holders = Dictionary(uniqueKeysWithValues: Fixtures.bruteForceClosest(world.ids, to: key, count: 20).map { ($0, record) })
        let origin = world.ids.first { holders[$0] == nil }!
        var full = Lookup(target: key, kind: .nodes, seeds: world.tables[origin]!.closest(to: key, count: 20), ownID: origin)
        let fullOutcome = try #require(world.drive(&full))
        var lookup = Lookup(target: key, kind: .value(quorum: 2), seeds: world.tables[origin]!.closest(to: key, count: 20), ownID: origin)
        let outcome = try #require(world.drive(&lookup, holders: holders))
        #expect(outcome.holders == 2)
        #expect(outcome.records == [record, record])
        #expect(outcome.queried < fullOutcome.queried)
    }

    @Test func valueLookupWithoutHoldersEndsEmptyAfterConverging() throws {
        let world = Self.world
        let origin = world.ids[2]
        let key = Fixtures.randomKeys(1, seed: 43)[0]
        var lookup = Lookup(target: key, kind: .value(quorum: 3), seeds: world.tables[origin]!.closest(to: key, count: 20), ownID: origin)
        let outcome = try #require(world.drive(&lookup))
        #expect(outcome.records.isEmpty && outcome.holders == 0)
        #expect(outcome.closest.count == 20)
    }

    @Test func lookupWithoutSeedsFinishesAtOnce() {
        var lookup = Lookup(target: .zero, kind: .nodes, seeds: [], ownID: Self.world.ids[0])
        guard case .finished(let outcome)? = lookup.start().first else {
            Issue.record("expected the lookup to finish")
            return
        }
        #expect(outcome.closest.isEmpty && outcome.queried == 0 && outcome.hops == 0)
    }

    @Test func repliesFromContactsNotAskedAreIgnored() {
        let ids = Fixtures.randomIDs(5, seed: 8)
        var lookup = Lookup(target: DHTID(ids[0]), kind: .nodes, seeds: ids[1...].map { Fixtures.contact($0) }, ownID: ids[0], k: 20, alpha: 1)
        #expect(lookup.start().count == 1)
        #expect(lookup.onReply(from: ids[0], contacts: []) == [])
        #expect(lookup.onFailure(from: PeerID(words: (0, 0, 0, 0))) == [])
    }
}
