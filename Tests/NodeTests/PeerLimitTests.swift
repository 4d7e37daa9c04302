import CohortBase
import DHT
import NIOCore
@testable import Node
import Testing
import Wire

/// Bans and per-peer limits of the transport (`TransportSettings`): what a misbehaving or greedy
/// peer gets, over real sockets on 127.0.0.1.
@Suite(.timeLimit(.minutes(1))) struct PeerLimitTests {
    /// Waits (up to 5 s) until `transport` has a connection in use with `peer`.
    func waitForConnection(_ transport: Transport, with peer: PeerID) async throws {
        for _ in 0..<250 where !(try await transport.connectedPeers().get().contains(peer)) {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// What a peer sends after the handshake, each time closing its connection.
    enum Violation: CaseIterable {
        case badFrame, undecodableRequest

        var bytes: [UInt8] {
            switch self {
            case .badFrame: Array("not a frame at all".utf8)
            case .undecodableRequest: Frame(type: .findNode, requestID: 1, payload: [1, 2, 3]).encoded()
            }
        }
    }

    @Test(arguments: Violation.allCases)
    func aPeerBreakingTheProtocolIsBannedAndItsNextConnectionIsRefused(_ violation: Violation) async throws {
        let pair = TransportPair()
        let loop = pair.group.next()
        // Serves like a DHT node: a request that does not decode fails, which closes the connection.
        let server = try await Transport.start(identity: identity(1), settings: TransportSettings(), eventLoop: loop,
                                               logger: pair.logger) { request in
            loop.makeCompletedFuture { try DHTMessage(frame: request.frame) }.map { _ in DHTMessage.pong.frame(requestID: 0) }
        }.get()
        for _ in 0..<server.settings.bans.offencesToBan {
            let client = try RawClient(port: server.boundEndpoint.port)
            var sealer = try client.handshake(with: server.identity.peerID)
            client.send(try sealer.seal(violation.bytes))
            #expect(client.closedByPeer())
            client.close()
        }
        #expect(try await server.bannedPeers().get() == [identity(999).peerID])
        let again = try RawClient(port: server.boundEndpoint.port)
        _ = try? again.handshake(with: server.identity.peerID)
        #expect(again.closedByPeer(), "closed as soon as the handshake proves who it is")
        again.close()
        let honest = try await pair.start(seed: 2)
        #expect(try await pair.ping(honest, server).frame.type == .pong)
        for transport in [server, honest] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }

    @Test func reportedOffencesBanAPeerBothWays() async throws {
        let pair = TransportPair()
        let a = try await pair.start(seed: 1)
        let b = try await pair.start(seed: 2)
        _ = try await pair.ping(a, b)
        for _ in 0..<a.settings.bans.offencesToBan {
            a.reportOffence(Offence(.badPart, "chunk 0 of part 0: norm 9e9 is 1e6× the median 9e3"), by: b.identity.peerID)
        }
        #expect(try await a.bannedPeers().get() == [b.identity.peerID])
        await #expect(throws: TransportError.banned) { try await pair.ping(a, b) }
        await #expect(throws: (any Error).self, "b's new connection is closed after the handshake") { try await pair.ping(b, a) }
        #expect(try await a.connectedPeers().get().isEmpty)
        for transport in [a, b] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }

    @Test func connectionsBeyondThePerPeerLimitAreClosed() async throws {
        let pair = TransportPair()
        var settings = TransportSettings()
        settings.maxConnectionsPerPeer = 1
        let server = try await pair.start(seed: 1, settings: settings)
        let first = try RawClient(port: server.boundEndpoint.port)
        _ = try first.handshake(with: server.identity.peerID)
        try await waitForConnection(server, with: identity(999).peerID)
        let second = try RawClient(port: server.boundEndpoint.port)
        _ = try? second.handshake(with: server.identity.peerID)
        #expect(second.closedByPeer())
        #expect(try await server.connectedPeers().get() == [identity(999).peerID], "the first connection stays")
        first.close()
        second.close()
        try await server.shutdown().get()
        try await pair.group.shutdownGracefully()
    }

    @Test func requestBytesBeyondThePerPeerLimitAreAnsweredBusy() async throws {
        let pair = TransportPair()
        var settings = TransportSettings()
        settings.maxInboundRequestBytesPerPeer = 1_000
        // The server holds every request until the test lets it answer, so the first is still
        // being served when the second arrives, however loaded the machine.
        let loop = pair.group.next()
        let held = try await loop.submit { NIOLoopBoundBox([EventLoopPromise<Frame>](), eventLoop: loop) }.get()
        let server = try await Transport.start(identity: identity(1), settings: settings, eventLoop: loop, logger: pair.logger) { _ in
            let reply = loop.makePromise(of: Frame.self)
            held.value.append(reply)
            return reply.futureResult
        }.get()
        let client = try await pair.start(seed: 2)
        func request() -> EventLoopFuture<Transport.Reply> {
            client.request(.ping, payload: [UInt8](repeating: 0, count: 600), to: server.boundEndpoint,
                           expecting: server.identity.peerID, timeout: .seconds(60))
        }
        let first = request()
        try await waitForConnection(client, with: server.identity.peerID)
        let second = try await request().get()
        #expect(try DHTMessage(frame: second.frame) == .error(.init(code: TransportErrorCode.busy, message: "too many requests in flight")))
        try await loop.submit { held.value.forEach { $0.succeed(DHTMessage.pong.frame(requestID: 0)) } }.get()
        #expect(try await first.get().frame.type == .pong, "a single request is served whatever its size")
        for transport in [server, client] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }
}
