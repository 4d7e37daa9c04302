import CohortBase
import Admission
import DHT
import Foundation
import NIOCore
@testable import Node
import Testing
import Wire

/// An admitted-only run on real sockets: the coordinator (the run key's holder) and tokened
/// peers talk; a peer without a token is refused with a reason; records are kept only from
/// their owner; a revoked peer is cut off and its records dropped, and an expiring token ends
/// its connections, while the others keep serving.
@Suite(.timeLimit(.minutes(1))) struct LiveAdmissionTests {
    func expiry(seconds: Int64 = 600) -> WallClockInstant { SystemClock().now().wall + .seconds(seconds) }

    func settings(token: AccessToken?) -> DHTService.Settings {
        var settings = LiveNetwork.settings()
        settings.transport.admission = .admittedOnly(TestRun.rules, presenting: token)
        return settings
    }

    func tokenedSettings(_ seed: UInt64, validFor seconds: Int64 = 3600) -> DHTService.Settings {
        settings(token: TestRun.token(for: identity(seed), expiry: expiry(seconds: seconds).millisecondsSinceEpoch))
    }

    @Test func tokenedPeersTalkWhileUntokenedAndRevokedPeersAreCutOff() async throws {
        var network = LiveNetwork()
        do {
            let coordinator = try await network.addNode(seed: 900, join: [], settings: settings(token: nil))
            let alice = try await network.addNode(seed: 901, join: [coordinator.endpoint], settings: tokenedSettings(901))
            let bob = try await network.addNode(seed: 902, join: [coordinator.endpoint], settings: tokenedSettings(902))
            #expect(try await alice.routingTableCount() == 2)

            let outsider = try await network.addNode(seed: 903, join: [coordinator.endpoint])
            #expect(try await outsider.routingTableCount() == 0)
            #expect(try await outsider.lastRefusal() == AdmissionRefusal(.noToken))

            let key = RecordKey(hashing: "cohort/tokens/progress")
            #expect(try await alice.put(key: key, subkey: [1], value: [1], expiresAt: expiry()).replicas == 3)
            #expect(try await bob.put(key: key, subkey: [2], value: [2], expiresAt: expiry()).replicas == 3)
            #expect(try await coordinator.get(key).map(\.value) == [[1], [2]])

            // An admitted peer cannot plant a record of a key that never proved a token.
            let planted = identity(903).signRecord(key: key, subkey: [3], value: [3], expiresAt: expiry())
            let store = DHTMessage.store(.init(sender: nil, records: [planted]))
            let reply = try await bob.transport.request(.store, payload: store.encodedPayload(), to: alice.endpoint,
                                                        expecting: alice.peerID, timeout: .seconds(10)).get()
            #expect(try DHTMessage(frame: reply.frame) == .storeAck([.notFromOwner]))

            // The coordinator revokes bob and publishes the list; alice reads it.
            let list = TestRun.revoking([identity(902)], sequence: 1)
            #expect(try await coordinator.applyRevocations(list))
            let revocationKey = RecordKey(hashing: RevocationList.recordName(runName: TestRun.name))
            _ = try await coordinator.put(key: revocationKey, subkey: [], value: list.encoded, expiresAt: expiry())
            #expect(try await alice.refreshRevocations() == list)
            #expect(try await coordinator.get(key).map(\.value) == [[1]])
            #expect(try await alice.get(key).map(\.value) == [[1]])
            #expect(try await !alice.transport.connectedPeers().get().contains(bob.peerID))

            let refused = try await bob.put(key: key, subkey: [2], value: [9], expiresAt: expiry(seconds: 900))
            #expect(refused.replicas <= 1, "only bob's own store may keep it")
            #expect(try await bob.lastRefusal() == AdmissionRefusal(.revoked))
            #expect(try await alice.get(key).map(\.value) == [[1]])

            #expect(try await alice.put(key: key, subkey: [1], value: [4], expiresAt: expiry(seconds: 700)).replicas == 2)
            #expect(try await coordinator.get(key).map(\.value) == [[4]])
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }

    @Test func connectionEndsWhenThePeersTokenExpiresAndItIsNotAdmittedAgain() async throws {
        var network = LiveNetwork()
        do {
            let coordinator = try await network.addNode(seed: 900, join: [], settings: settings(token: nil))
            // Long enough to join on a loaded machine; the connection must end soon after.
            let brief = try await network.addNode(seed: 911, join: [coordinator.endpoint], settings: tokenedSettings(911, validFor: 6))
            #expect(try await brief.routingTableCount() == 1, "the peer was not admitted while its token was valid")
            var connected = try await coordinator.transport.connectedPeers().get()
            for _ in 0..<200 where !connected.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                connected = try await coordinator.transport.connectedPeers().get()
            }
            #expect(connected.isEmpty, "the connection outlived the token")
            let key = RecordKey(hashing: "cohort/tokens/progress")
            #expect(try await brief.put(key: key, subkey: [1], value: [1], expiresAt: expiry()).replicas <= 1)
            #expect(try await brief.lastRefusal() == AdmissionRefusal(.expired))
            #expect(try await coordinator.get(key).isEmpty)
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }
}
