import CohortBase
import DHT
import Foundation
@testable import Node
import Testing
import Wire

/// Raw TCP clients that misbehave at each layer; the node must drop them and keep serving.
/// A live peer process gets the same input in `LivePeerGarbageTests`.
@Suite(.timeLimit(.minutes(1))) struct GarbageTests {
    @Test(arguments: MalformedInput.allCases) func misbehavingClientIsDisconnectedAndOthersAreStillServed(_ input: MalformedInput) async throws {
        var network = LiveNetwork()
        var settings = LiveNetwork.settings()
        settings.transport.maxMessageBytes = 4096
        // A truncated handshake ends only at the handshake timeout, which must come well
        // within the client's 5 s wait for the close.
        settings.transport.handshakeTimeout = .seconds(1)
        do {
            let target = try await network.addNode(seed: 500, join: [], settings: settings)
            let honest = try await network.addNode(seed: 501, join: [target.endpoint])
            let client = try RawClient(port: target.endpoint.port)
            defer { client.close() }
            try input.send(over: client, to: target.peerID, maxMessageBytes: settings.transport.maxMessageBytes, as: identity(999))
            #expect(client.closedByPeer())
            let key = RecordKey(hashing: "still/serving")
            let expiresAt = SystemClock().now().wall + .seconds(60)
            #expect(try await honest.put(key: key, subkey: [1], value: [7], expiresAt: expiresAt).replicas == 2)
            #expect(try await target.get(key).map(\.value) == [[7]])
        } catch {
            Issue.record(error)
        }
        await network.shutdown()
    }
}
