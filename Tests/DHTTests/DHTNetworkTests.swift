import CohortBase
import DHT
import Testing
import Wire

/// Several nodes talking through `TestNetwork`: bootstrap, replication, loss of nodes, republish.
@Suite struct DHTNetworkTests {
    private func joinedNetwork(count: Int = 40, seed: UInt64 = 5) -> TestNetwork {
        var network = TestNetwork(count: count, seed: seed)
        network.join(0, via: nil)
        for index in 1..<count { network.join(index, via: index - 1 == 0 ? 0 : Int(UInt64(index) * 7 % UInt64(index))) }
        return network
    }

    @Test func everyNodeBootstrapsAndLearnsMostOfASmallNetwork() {
        let network = joinedNetwork()
        for index in network.nodes.indices {
            guard case .bootstrapped(let contacts)? = network.results[index]?.first else {
                Issue.record("node \(index) did not finish bootstrapping")
                continue
            }
            #expect(contacts >= min(index, 20), "a joiner learns the network that exists")
            #expect(network.nodes[index].routingTable.count >= 20, "early nodes learn later joiners from their requests")
        }
    }

    @Test func putReplicatesToTheKClosestPeers() {
        var network = joinedNetwork()
        let writer = 7
        let record = network.identities[writer].signRecord(key: RecordKey(hashing: "run/x/progress"),
                                                          subkey: network.identities[writer].peerID.bytes, value: [1, 2],
                                                          expiresAt: .at(network.now + 600_000))
        let result = network.put(record, from: writer)
        guard case .stored(let replicas, let contacted, _)? = result else {
            Issue.record("put ended with \(String(describing: result))")
            return
        }
        #expect(replicas == 20 && contacted == 20)
        let closest = Fixtures.bruteForceClosest(network.nodes.map(\.ownID), to: record.key, count: 20)
        let expected = Set(closest.map { id in network.nodes.firstIndex { $0.ownID == id }! })
        #expect(network.holders(of: record.key) == expected)
    }

    @Test func recordsSurviveTheLossOfTheBootstrapNodeAndTheWriter() {
        var network = joinedNetwork()
        let key = RecordKey(hashing: "run/x/progress")
        var records: [SignedRecord] = []
        for writer in [0, 3, 9] {
            let record = network.identities[writer].signRecord(key: key, subkey: network.identities[writer].peerID.bytes,
                                                              value: [UInt8(writer)], expiresAt: .at(network.now + 600_000))
            records.append(record)
            _ = network.put(record, from: writer)
        }
        network.stopped = [0, 3]
        let result = network.get(key, from: 25)
        guard case .found(let found, _)? = result else {
            Issue.record("get ended with \(String(describing: result))")
            return
        }
        #expect(Set(found) == Set(records), "a get returns the merged dictionary of all writers")
    }

    @Test func lateJoinerFindsEarlierRecords() {
        var network = TestNetwork(count: 31, seed: 9)
        network.join(0, via: nil)
        for index in 1..<30 { network.join(index, via: 0) }
        let key = RecordKey(hashing: "late")
        let record = network.identities[4].signRecord(key: key, subkey: [], value: [4], expiresAt: .at(network.now + 600_000))
        _ = network.put(record, from: 4)
        network.join(30, via: 12)
        let result = network.get(key, from: 30)
        guard case .found(let found, _)? = result else {
            Issue.record("get ended with \(String(describing: result))")
            return
        }
        #expect(found == [record])
    }

    @Test func ownerRepublishesItsRecordUntilItExpires() {
        var network = joinedNetwork(count: 30, seed: 6)
        let key = RecordKey(hashing: "republished")
        let interval = UInt64(network.nodes[2].settings.republishInterval.wholeMilliseconds)
        let record = network.identities[2].signRecord(key: key, subkey: [], value: [1], expiresAt: .at(network.now + 2 * interval + 1_000))
        _ = network.put(record, from: 2)
        let holders = network.holders(of: key)
        // New holders appear when the closest peers lose the record and the owner republishes.
        for holder in holders where holder != 2 {
            network.nodes[holder] = DHTNode(ownID: network.nodes[holder].ownID, ownContact: network.nodes[holder].ownContact,
                                            seed: 1, now: .at(network.now))
        }
        #expect(network.holders(of: key).subtracting([2]).isEmpty)
        network.now += interval
        network.run(network.nodes[2].onTick(now: .at(network.now)), of: 2)
        #expect(network.holders(of: key).count >= 19, "the republish stored the record again")
        network.now = record.expiry
        #expect(network.nodes[2].onTick(now: .at(network.now)).sends.allSatisfy {
            if case .store = $0.message { false } else { true }
        }, "an expired record is not republished")
    }
}
