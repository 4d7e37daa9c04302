import CohortBase
import Admission
import DHT
@testable import Node
import Testing

/// A revocation list that arrives while a peer is still in its handshake applies to it too
/// (issue 11, attack 7): the handshake checked the rules of when it began.
@Suite(.timeLimit(.minutes(1))) struct RevokedDuringHandshakeTests {
    @Test func aPeerRevokedWhileItsHandshakeRunsIsClosedOnceItCompletes() async throws {
        let pair = TransportPair()
        var settings = TransportSettings()
        settings.admission = AdmissionPolicy(rules: TestRun.rules, clock: ManualClock(wall: .at(TestRun.now)))
        let server = try await pair.start(seed: 1, settings: settings)
        let revoked = identity(5)
        let client = try RawClient(port: server.boundEndpoint.port)
        defer { client.close() }
        _ = try client.handshake(as: revoked, presenting: TestRun.token(for: revoked), expecting: server.identity.peerID) { index, bytes in
            // The server has admitted the hello; the list arrives before the proof that ends the handshake.
            if index == 1 { _ = try? server.applyRevocations(TestRun.revoking([revoked], sequence: 1)).wait() }
            return bytes
        }
        #expect(client.closedByPeer(), "a peer revoked during its handshake kept its connection")
        #expect(try await !server.connectedPeers().get().contains(revoked.peerID))
        try await server.shutdown().get()
        try await pair.group.shutdownGracefully()
    }
}
