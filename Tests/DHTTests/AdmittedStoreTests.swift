import CohortBase
import DHT
import Testing
import Wire

/// The DHT's share of run admission: an admitted-only node keeps only records their owner
/// stored itself, and drops, refuses and ignores the records of revoked owners.
@Suite struct AdmittedStoreTests {
    let now: UInt64 = 1_000_000
    let identities = Fixtures.identities(6, seed: 77)
    let key = RecordKey(hashing: "cohort/run/progress")

    private func node(storesOnlyFromOwners: Bool) -> DHTNode {
        var settings = DHTNode.Settings()
        settings.storesOnlyFromOwners = storesOnlyFromOwners
        settings.valueQuorum = 1
        return DHTNode(ownID: identities[0].peerID, ownContact: TestNetwork.contact(of: identities[0], index: 0),
                       settings: settings, seed: 1, now: .at(now))
    }

    private func record(of writer: Int, value: UInt8 = 1) -> SignedRecord {
        identities[writer].signRecord(key: key, subkey: identities[writer].peerID.bytes, value: [value], expiresAt: .at(now + 60_000))
    }

    private func store(_ records: [SignedRecord], into node: inout DHTNode, from sender: Int) -> [DHTMessage] {
        node.onRequest(.store(.init(sender: nil, records: records)), requestID: 1, from: identities[sender].peerID, now: .at(now)).replies
    }

    @Test func admittedOnlyNodeKeepsOnlyRecordsOwnedByTheSender() {
        var node = node(storesOnlyFromOwners: true)
        #expect(store([record(of: 1), record(of: 2)], into: &node, from: 1) == [.storeAck([.stored, .notFromOwner])])
        #expect(node.store.records(under: key, now: .at(now)) == [record(of: 1)])
    }

    @Test func openNodeStillKeepsRecordsSentForAnotherOwner() {
        var node = node(storesOnlyFromOwners: false)
        #expect(store([record(of: 2)], into: &node, from: 1) == [.storeAck([.stored])])
    }

    @Test func revokedOwnersRecordsAreDroppedAndRefusedFromThenOn() {
        var node = node(storesOnlyFromOwners: true)
        _ = store([record(of: 1)], into: &node, from: 1)
        _ = store([record(of: 2)], into: &node, from: 2)
        node.revokeOwners([identities[2].publicKey])
        #expect(node.store.count == 1)
        #expect(node.store.records(under: key, now: .at(now)) == [record(of: 1)])
        #expect(store([record(of: 2, value: 9)], into: &node, from: 2) == [.storeAck([.ownerRevoked])])
    }

    @Test func lookupIgnoresRecordsOfRevokedOwnersThatAnotherHolderStillServes() {
        var node = node(storesOnlyFromOwners: true)
        _ = node.onRequest(.ping(sender: TestNetwork.contact(of: identities[3], index: 3)), requestID: 1,
                           from: identities[3].peerID, now: .at(now))
        node.revokeOwners([identities[2].publicKey])
        let (operation, directives) = node.get(key, now: .at(now))
        let query = directives.sends[0]
        let result = node.onResponse(.value(.init(records: [record(of: 1), record(of: 2)], closer: [])),
                                     requestID: query.requestID, from: identities[3].peerID, now: .at(now))
        #expect(result == [.completed(operation, .found(records: [record(of: 1)], hops: 1))])
    }
}
