import CohortBase
import DHT
import Foundation
@testable import Node
import Testing
import Wire

/// Bans through a live DHT service: the node's offences reach the transport, and the
/// transport's bans reach the node.
@Suite(.timeLimit(.minutes(1))) struct LiveBanTests {
    @Test func aPeerStoringForgedRecordsIsBannedAndItsRecordsAreNoLongerServed() async throws {
        var network = LiveNetwork()
        do {
            let target = try await network.addNode(seed: 600, join: [])
            let forger = try await network.addNode(seed: 601, join: [target.endpoint])
            let key = RecordKey(hashing: "run/ban/progress")
            let expiresAt = SystemClock().now().wall + .seconds(600)
            #expect(try await forger.put(key: key, subkey: [1], value: [1], expiresAt: expiresAt).replicas == 2)
            #expect(try await target.get(key).count == 1)
            var forged = identity(601).signRecord(key: key, subkey: [2], value: [1], expiresAt: expiresAt)
            forged.value = [9]
            let store = DHTMessage.store(.init(sender: nil, records: [forged])).encodedPayload()
            for _ in 0..<target.transport.settings.bans.offencesToBan {
                // The ban may close the connection before the last reply is out.
                _ = try? await forger.transport.request(.store, payload: store, to: target.endpoint, expecting: target.peerID,
                                                        timeout: .seconds(2)).get()
            }
            #expect(try await target.transport.bannedPeers().get() == [forger.peerID])
            #expect(try await target.get(key).isEmpty, "the banned owner's record held here is no longer returned")
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }
}
