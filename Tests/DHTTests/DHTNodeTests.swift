import CohortBase
import DHT
import Testing
import Wire

@Suite struct DHTNodeTests {
    let now: UInt64 = 1_000_000
    let identities = Fixtures.identities(40, seed: 31)

    private func node(_ index: Int = 0, settings: DHTNode.Settings = DHTNode.Settings()) -> DHTNode {
        DHTNode(ownID: identities[index].peerID, ownContact: TestNetwork.contact(of: identities[index], index: index),
                settings: settings, seed: 1, now: .at(now))
    }

    private func contact(_ index: Int) -> Contact { TestNetwork.contact(of: identities[index], index: index) }

    /// A node that has heard a ping from each of `peers`.
    private func node(knowing peers: Range<Int>) -> DHTNode {
        var node = node()
        for peer in peers {
            _ = node.onRequest(.ping(sender: contact(peer)), requestID: UInt64(peer), from: identities[peer].peerID, now: .at(now))
        }
        return node
    }

    @Test func pingIsAnsweredAndTheSenderLearned() {
        var node = node()
        let directives = node.onRequest(.ping(sender: contact(1)), requestID: 9, from: identities[1].peerID, now: .at(now))
        #expect(directives == [.reply(.pong, requestID: 9)])
        #expect(node.routingTable.contains(identities[1].peerID))
    }

    @Test func clientModeSenderIsNotLearned() {
        var node = node()
        _ = node.onRequest(.ping(sender: nil), requestID: 9, from: identities[39].peerID, now: .at(now))
        #expect(node.routingTable.count == 0)
    }

    @Test func findNodeAnswersTheClosestExceptTheAsker() {
        var node = node(knowing: 1..<40)
        let target = DHTID(identities[5].peerID)
        let replies = node.onRequest(.findNode(.init(sender: contact(7), target: target)),
                                     requestID: 3, from: identities[7].peerID, now: .at(now)).replies
        let expected = Fixtures.bruteForceClosest(identities[1..<40].map(\.peerID).filter { $0 != identities[7].peerID }, to: target, count: 20)
        #expect(replies == [.foundNodes(expected.map { id in contact(identities.firstIndex { $0.peerID == id }!) })])
    }

    @Test func storeThenFindValueThenExpiry() {
        var node = node()
        let key = RecordKey(hashing: "k")
        let record = identities[3].signRecord(key: key, subkey: [1], value: [2], expiresAt: .at(now + 60_000))
        let forged = identities[4].signRecord(key: key, subkey: [9], value: [2], expiresAt: .at(now + 60_000))
        var tampered = forged
        tampered.value = [3]
        let ack = node.onRequest(.store(.init(sender: contact(3), records: [record, tampered])), requestID: 1,
                                 from: identities[3].peerID, now: .at(now)).replies
        #expect(ack == [.storeAck([.stored, .badSignature])])
        let found = node.onRequest(.findValue(.init(sender: nil, key: key)), requestID: 2, from: identities[39].peerID,
                                   now: .at(now + 59_999)).replies
        #expect(found == [.value(.init(records: [record], closer: [contact(3)]))])
        let later = node.onRequest(.findValue(.init(sender: nil, key: key)), requestID: 3, from: identities[39].peerID,
                                   now: .at(now + 60_000)).replies
        #expect(later == [.value(.init(records: [], closer: [contact(3)]))])
        _ = node.onTick(now: .at(now + 60_000))
        #expect(node.store.count == 0)
    }

    @Test func oneOwnersManyLargeRecordsUnderLowSubkeysDoNotHideAnotherOwnersRecord() {
        // Found in review: replies were cut in key order, so records under the lowest subkeys
        // filled every reply and the run's progress records were never seen.
        var settings = DHTNode.Settings()
        settings.maxReplyRecordBytes = 20_000
        var node = node(settings: settings)
        let key = RecordKey(hashing: "cohort/run/progress")
        let flood = (0..<40).map { index in
            identities[4].signRecord(key: key, subkey: [0, UInt8(index)], value: [UInt8](repeating: 1, count: 1_000), expiresAt: .at(now + 60_000))
        }
        let honest = identities[3].signRecord(key: key, subkey: identities[3].peerID.bytes, value: [2], expiresAt: .at(now + 60_000))
        _ = node.onRequest(.store(.init(sender: nil, records: flood)), requestID: 1, from: identities[4].peerID, now: .at(now))
        _ = node.onRequest(.store(.init(sender: nil, records: [honest])), requestID: 2, from: identities[3].peerID, now: .at(now))
        guard case .value(let reply)? = node.onRequest(.findValue(.init(sender: nil, key: key)), requestID: 3,
                                                      from: identities[39].peerID, now: .at(now)).replies.first else {
            Issue.record("no value reply")
            return
        }
        #expect(reply.records.contains(honest))
        #expect(reply.records.count < flood.count + 1, "the reply budget still applies")
    }

    @Test func anotherPeersRecordUnderTheSameSubkeyIsKeptBesideMineNotInstead() {
        var node = node()
        let key = RecordKey(hashing: "k")
        let mine = identities[3].signRecord(key: key, subkey: [1], value: [2], expiresAt: .at(now + 60_000))
        let theirs = identities[4].signRecord(key: key, subkey: [1], value: [6], expiresAt: .at(now + 90_000))
        _ = node.onRequest(.store(.init(sender: nil, records: [mine])), requestID: 1, from: identities[39].peerID, now: .at(now))
        let ack = node.onRequest(.store(.init(sender: nil, records: [theirs])), requestID: 2, from: identities[39].peerID, now: .at(now)).replies
        #expect(ack == [.storeAck([.stored])])
        #expect(Set(node.store.records(under: key, now: .at(now))) == [mine, theirs])
    }

    @Test func replyTypesSentAsRequestsGetAnError() {
        var node = node()
        guard case .error(let reply)? = node.onRequest(.pong, requestID: 1, from: identities[39].peerID, now: .at(now)).replies.first else {
            Issue.record("expected an error reply")
            return
        }
        #expect(reply.code == DHTNode.ErrorCode.notARequest)
    }

    @Test func fullBucketPingsItsStaleContactAndReplacesItWhenSilent() {
        var settings = DHTNode.Settings()
        settings.k = 2
        var node = node(settings: settings)
        // Peers in the node's farthest bucket (255): those whose first id bit differs.
        let far = (1..<40).filter { node.routingTable.bucketIndex(of: DHTID(identities[$0].peerID)) == 255 }
        _ = node.onRequest(.ping(sender: contact(far[0])), requestID: 1, from: identities[far[0]].peerID, now: .at(now))
        _ = node.onRequest(.ping(sender: contact(far[1])), requestID: 2, from: identities[far[1]].peerID, now: .at(now))
        let directives = node.onRequest(.ping(sender: contact(far[2])), requestID: 3, from: identities[far[2]].peerID, now: .at(now))
        let ping = directives.sends
        #expect(ping.count == 1 && ping[0].endpoint == contact(far[0]).endpoint && ping[0].expecting == identities[far[0]].peerID)
        #expect(!node.routingTable.contains(identities[far[2]].peerID))
        _ = node.onRequestTimeout(requestID: ping[0].requestID, now: .at(now + 2_000))
        #expect(!node.routingTable.contains(identities[far[0]].peerID))
        #expect(node.routingTable.contains(identities[far[2]].peerID))
    }

    @Test func staleContactThatAnswersIsKept() {
        var settings = DHTNode.Settings()
        settings.k = 2
        var node = node(settings: settings)
        let far = (1..<40).filter { node.routingTable.bucketIndex(of: DHTID(identities[$0].peerID)) == 255 }
        _ = node.onRequest(.ping(sender: contact(far[0])), requestID: 1, from: identities[far[0]].peerID, now: .at(now))
        _ = node.onRequest(.ping(sender: contact(far[1])), requestID: 2, from: identities[far[1]].peerID, now: .at(now))
        let ping = node.onRequest(.ping(sender: contact(far[2])), requestID: 3, from: identities[far[2]].peerID, now: .at(now)).sends[0]
        _ = node.onResponse(.pong, requestID: ping.requestID, from: identities[far[0]].peerID, now: .at(now + 10))
        #expect(node.routingTable.contains(identities[far[0]].peerID))
        #expect(!node.routingTable.contains(identities[far[2]].peerID))
    }

    @Test func replyFromTheWrongPeerCountsAsAFailure() {
        var node = node(knowing: 1..<5)
        let (_, directives) = node.get(RecordKey(hashing: "x"), now: .at(now))
        #expect(directives.sends.count == 3)
        let query = directives.sends[0]
        let next = node.onResponse(.value(.init(records: [], closer: [])), requestID: query.requestID, from: identities[39].peerID, now: .at(now))
        #expect(!node.routingTable.contains(identities[39].peerID), "an impostor is not learned")
        #expect(next.sends.count == 1 && next.sends[0].expecting != query.expecting, "the lookup moves on to the fourth peer")
        #expect(node.pendingRequestCount == 3)
    }

    @Test func getKeepsOnlyVerifiedRecordsForTheKey() {
        var settings = DHTNode.Settings()
        settings.valueQuorum = 1
        var node = node(settings: settings)
        _ = node.onRequest(.ping(sender: contact(1)), requestID: 1, from: identities[1].peerID, now: .at(now))
        let key = RecordKey(hashing: "progress")
        let good = identities[2].signRecord(key: key, subkey: [2], value: [1], expiresAt: .at(now + 1_000))
        var forged = identities[3].signRecord(key: key, subkey: [3], value: [1], expiresAt: .at(now + 1_000))
        forged.value = [66]
        let otherKey = identities[4].signRecord(key: RecordKey(hashing: "other"), subkey: [4], value: [1], expiresAt: .at(now + 1_000))
        let (operation, directives) = node.get(key, now: .at(now))
        let query = directives.sends[0]
        #expect(query.message == .findValue(.init(sender: contact(0), key: key)))
        let result = node.onResponse(.value(.init(records: [good, forged, otherKey], closer: [])),
                                     requestID: query.requestID, from: identities[1].peerID, now: .at(now))
        #expect(result == [.offence(identities[1].peerID, Offence(.badRecord, "returned a record with a bad signature")),
                           .completed(operation, .found(records: [good], hops: 1))])
    }

    @Test func putRefusesARecordThatDoesNotValidate() {
        var node = node()
        var record = identities[0].signRecord(key: RecordKey(hashing: "k"), subkey: [], value: [1], expiresAt: .at(now + 1_000))
        record.value = [2]
        #expect(node.put(record, now: .at(now)).directives.completions == [.refused(.badSignature)])
    }

    @Test func idleBucketsAreRefreshedAfterTheInterval() {
        var node = node(knowing: 1..<40)
        let refreshInterval = UInt64(node.settings.refreshInterval.wholeMilliseconds)
        #expect(node.onTick(now: .at(now + 1_000)).sends.isEmpty)
        let refresh = node.onTick(now: .at(now + refreshInterval)).sends
        #expect(!refresh.isEmpty)
        for send in refresh {
            guard case .findNode = send.message else {
                Issue.record("refresh sent \(send.message)")
                continue
            }
        }
        #expect(node.onTick(now: .at(now + refreshInterval + 1)).sends.isEmpty, "a refreshed bucket is not due again")
    }

    @Test func bootstrapAsksAgainWhenAProbeIsLostThenGivesUp() {
        var node = node()
        let seed = contact(1).endpoint
        let (operation, first) = node.bootstrap(from: [seed], now: .at(now))
        #expect(first.sends.map(\.endpoint) == [seed])
        #expect(first.sends[0].message == .findNode(.init(sender: contact(0), target: DHTID(identities[0].peerID))))
        var requestID = first.sends[0].requestID
        for _ in 2...node.settings.bootstrapAttempts {
            let retry = node.onRequestTimeout(requestID: requestID, now: .at(now))
            #expect(retry.sends.map(\.endpoint) == [seed])
            requestID = retry.sends[0].requestID
        }
        #expect(node.onRequestTimeout(requestID: requestID, now: .at(now)) == [.completed(operation, .bootstrapped(contacts: 0))])
    }

    @Test func bootstrapLearnsTheSeedAndLooksUpItsOwnID() {
        var node = node()
        let (_, first) = node.bootstrap(from: [contact(1).endpoint], now: .at(now))
        let next = node.onResponse(.foundNodes([contact(2)]), requestID: first.sends[0].requestID, from: identities[1].peerID, now: .at(now))
        #expect(node.routingTable.contains(identities[1].peerID))
        #expect(next.sends.map(\.message) == [.findNode(.init(sender: contact(0), target: DHTID(identities[0].peerID)))])
        #expect(next.sends.map(\.expecting) == [identities[1].peerID])
    }
}

/// Per-peer limits and bans inside the node: the rate of stores, offences for what honest peers
/// never send, and the records of banned owners.
@Suite struct DHTNodeLimitTests {
    let now: UInt64 = 1_000_000
    let identities = Fixtures.identities(6, seed: 32)
    let key = RecordKey(hashing: "run/limits/progress")

    private func node(recordsPerMinute: Int = 600) -> DHTNode {
        var settings = DHTNode.Settings()
        settings.storeRate.recordsPerMinute = recordsPerMinute
        settings.storeRate.burst = recordsPerMinute
        return DHTNode(ownID: identities[0].peerID, ownContact: TestNetwork.contact(of: identities[0], index: 0),
                       settings: settings, seed: 1, now: .at(now))
    }

    private func record(by writer: Int, subkey: UInt8 = 1) -> SignedRecord {
        identities[writer].signRecord(key: key, subkey: [subkey], value: [7], expiresAt: .at(now + 60_000))
    }

    private func store(_ records: [SignedRecord], from peer: Int, on node: inout DHTNode, at time: UInt64? = nil) -> [DHTNode.Directive] {
        node.onRequest(.store(.init(sender: nil, records: records)), requestID: 1, from: identities[peer].peerID, now: .at(time ?? now))
    }

    @Test func aPeerStoringFasterThanItsRateIsRefusedAndBlamed() {
        var node = node(recordsPerMinute: 2)
        #expect(store([record(by: 1, subkey: 1), record(by: 1, subkey: 2)], from: 1, on: &node).replies == [.storeAck([.stored, .stored])])
        let flood = store([record(by: 1, subkey: 3)], from: 1, on: &node)
        #expect(flood == [
            .reply(.error(.init(code: DHTNode.ErrorCode.rateLimited, message: "slow down: more than 2 records per minute")), requestID: 1),
            .offence(identities[1].peerID, Offence(.flood, "asked to store more than 2 records per minute")),
        ])
        #expect(store([record(by: 2, subkey: 9)], from: 2, on: &node).replies == [.storeAck([.stored])], "another peer is not slowed")
        #expect(store([record(by: 1, subkey: 3)], from: 1, on: &node, at: now + 30_000).replies == [.storeAck([.stored])])
    }

    @Test func aForgedRecordIsAnOffenceButAnExpiredOneIsNot() {
        var node = node()
        var forged = record(by: 1)
        forged.value = [8]
        let expired = identities[1].signRecord(key: key, subkey: [2], value: [7], expiresAt: .at(now))
        #expect(store([forged, expired], from: 1, on: &node) == [
            .reply(.storeAck([.badSignature, .expired]), requestID: 1),
            .offence(identities[1].peerID, Offence(.badRecord, "asked to store 1 record(s) with a bad signature")),
        ])
        #expect(store([expired], from: 1, on: &node) == [.reply(.storeAck([.expired]), requestID: 1)])
    }

    @Test func aReplyTypeSentAsARequestIsAnOffence() {
        var node = node()
        let directives = node.onRequest(.pong, requestID: 4, from: identities[2].peerID, now: .at(now))
        #expect(directives.contains(.offence(identities[2].peerID, Offence(.protocolViolation, "sent a pong as a request"))))
    }

    @Test func bannedOwnersRecordsAreRefusedHiddenAndDropped() {
        var node = node()
        let held = record(by: 2, subkey: 2)
        #expect(store([record(by: 1), held], from: 3, on: &node).replies == [.storeAck([.stored, .stored])])
        node.onBansChanged([identities[2].peerID])
        #expect(store([record(by: 2, subkey: 3), record(by: 1, subkey: 4)], from: 3, on: &node).replies
            == [.storeAck([.ownerBanned, .stored])])
        guard case .value(let reply)? = node.onRequest(.findValue(.init(sender: nil, key: key)), requestID: 2,
                                                       from: identities[3].peerID, now: .at(now)).replies.first else {
            Issue.record("expected a value reply")
            return
        }
        #expect(reply.records.map(\.ownerID).allSatisfy { $0 == identities[1].peerID })
        let banned = node.onRequest(.ping(sender: nil), requestID: 3, from: identities[2].peerID, now: .at(now))
        #expect(banned == [.reply(.error(.init(code: DHTNode.ErrorCode.banned, message: "this node has banned you")), requestID: 3)])
        let (_, directives) = node.get(key, now: .at(now))
        #expect(directives.completions.first.map { result in
            guard case .found(let records, _) = result else { return false }
            return records.count == 2 && !records.contains(held)
        } == true, "a get leaves out the banned owner's records, including those held here")
    }

    @Test func aValueReplyWithARecordUnderAnotherKeyIsAnOffence() {
        var node = node()
        _ = node.onRequest(.ping(sender: TestNetwork.contact(of: identities[1], index: 1)), requestID: 1,
                           from: identities[1].peerID, now: .at(now))
        let query = node.get(key, now: .at(now)).directives.sends[0]
        let stray = identities[2].signRecord(key: RecordKey(hashing: "elsewhere"), subkey: [1], value: [1], expiresAt: .at(now + 60_000))
        let directives = node.onResponse(.value(.init(records: [stray], closer: [])), requestID: query.requestID,
                                         from: identities[1].peerID, now: .at(now))
        #expect(directives.contains(.offence(identities[1].peerID,
                                             Offence(.protocolViolation, "returned a record under a key it was not asked for"))))
        #expect(directives.completions == [.found(records: [], hops: 1)])
    }
}

