import DHT
import NIOCore
@testable import Node
import Testing

/// An authenticated connection that carries nothing is closed after `idleTimeout`, so that a
/// peer cannot hold connection slots forever (issue 11, attack 7); one with a request in
/// flight is not idle.
@Suite(.timeLimit(.minutes(1))) struct IdleTimeoutTests {
    func settings(idleTimeout: TimeAmount) -> TransportSettings {
        var settings = TransportSettings()
        settings.idleTimeout = idleTimeout
        return settings
    }

    @Test func anIdleAuthenticatedConnectionIsClosed() async throws {
        let pair = TransportPair()
        let server = try await pair.start(seed: 1, settings: settings(idleTimeout: .milliseconds(300)))
        let client = try await pair.start(seed: 2)
        _ = try await pair.ping(client, server)
        var connected = try await server.connectedPeers().get()
        let deadline = ContinuousClock.now + .seconds(30)
        while !connected.isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            connected = try await server.connectedPeers().get()
        }
        #expect(connected.isEmpty, "an idle connection stayed open")
        #expect(try await pair.ping(client, server).peer == server.identity.peerID, "the client dials again")
        for transport in [server, client] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }

    @Test func aConnectionWithARequestInFlightIsNotIdle() async throws {
        let pair = TransportPair()
        let server = try await pair.start(seed: 1, settings: settings(idleTimeout: .milliseconds(100)), replyDelay: .seconds(1))
        let client = try await pair.start(seed: 2, settings: settings(idleTimeout: .milliseconds(100)))
        #expect(try await pair.ping(client, server).frame.type == .pong)
        for transport in [server, client] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }
}
