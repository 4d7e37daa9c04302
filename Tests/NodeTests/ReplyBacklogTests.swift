import DHT
import NIOCore
@testable import Node
import Testing
import Wire

/// A peer that asks for large replies and never reads them (issue 11, attack 6): the node it
/// asks keeps at most `maxQueuedReplyBytesPerPeer` of replies for it, then stops reading it
/// until it reads, and goes on serving everyone else.
@Suite(.timeLimit(.minutes(1))) struct ReplyBacklogTests {
    static let replyBytes = 64 * 1024

    @Test func aClientThatNeverReadsCannotGrowTheQueuedRepliesPastTheBound() async throws {
        let pair = TransportPair()
        var settings = TransportSettings()
        settings.maxQueuedReplyBytesPerPeer = 256 * 1024
        let loop = pair.group.next()
        let server = try await Transport.start(identity: identity(1), settings: settings, eventLoop: loop, logger: pair.logger) { request in
            guard request.frame.type == .stateRequest else { return loop.makeSucceededFuture(DHTMessage.pong.frame(requestID: 0)) }
            return loop.makeSucceededFuture(Frame(type: .stateChunk, requestID: 0, payload: [UInt8](repeating: 7, count: Self.replyBytes)))
        }.get()

        // Thousands of tiny requests, each asking for 64 KiB: 250 MiB if all were answered.
        let greedy = try RawClient(port: server.boundEndpoint.port)
        defer { greedy.close() }
        var sealer = try greedy.handshake(with: server.identity.peerID)
        let requests = (1...4_000).flatMap { Frame(type: .stateRequest, requestID: UInt64($0), payload: []).encoded() }
        greedy.send(try sealer.seal(requests))

        let greedyID = identity(999).peerID
        let deadline = ContinuousClock.now + .seconds(30)
        var backlog = try await server.replyBacklogs(of: greedyID).get()
        while backlog.first?.isRead != false, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            backlog = try await server.replyBacklogs(of: greedyID).get()
        }
        let queued = try #require(backlog.first, "the greedy client's connection is gone").queuedBytes
        #expect(backlog.first?.isRead == false, "the server kept reading a client that reads nothing")
        let bound = settings.maxQueuedReplyBytesPerPeer + PeerConnectionHandler.busyReplyAllowance + Frame.headerLength + Self.replyBytes
        #expect(queued <= bound, "\(queued) reply bytes queued for a client that reads nothing")

        let honest = try await pair.start(seed: 2)
        #expect(try await pair.ping(honest, server).frame.type == .pong)

        // Once the client reads, the server reads it again; a busy machine gets its own minute for it.
        let resumeDeadline = ContinuousClock.now + .seconds(60)
        while backlog.first?.isRead == false, ContinuousClock.now < resumeDeadline, greedy.receive(upTo: 1 << 16)?.isEmpty == false {
            backlog = try await server.replyBacklogs(of: greedyID).get()
        }
        #expect(backlog.first?.isRead == true, "the server did not resume reading a client that read its replies")
        for transport in [server, honest] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }

    /// One attacker with many identities, none of which reads: each connection stays within its
    /// own bound, and the node closes the greediest ones once all of them together pass the
    /// node's bound.
    @Test func manyIdentitiesThatNeverReadCannotTogetherPassTheNodesBound() async throws {
        let pair = TransportPair()
        var settings = TransportSettings()
        settings.maxQueuedReplyBytesPerPeer = 256 * 1024
        settings.maxQueuedReplyBytes = 600 * 1024
        let loop = pair.group.next()
        let server = try await Transport.start(identity: identity(1), settings: settings, eventLoop: loop, logger: pair.logger) { request in
            guard request.frame.type == .stateRequest else { return loop.makeSucceededFuture(DHTMessage.pong.frame(requestID: 0)) }
            return loop.makeSucceededFuture(Frame(type: .stateChunk, requestID: 0, payload: [UInt8](repeating: 7, count: Self.replyBytes)))
        }.get()

        let greedy = (900..<904).map { identity(UInt64($0)) }
        var clients: [RawClient] = []
        defer { for client in clients { client.close() } }
        let requests = (1...400).flatMap { Frame(type: .stateRequest, requestID: UInt64($0), payload: []).encoded() }
        for attacker in greedy {
            let client = try RawClient(port: server.boundEndpoint.port)
            clients.append(client)
            var sealer = try client.handshake(with: server.identity.peerID, as: attacker)
            client.send(try sealer.seal(requests))
        }
        // Each identity alone may hold about 384 KiB, four 1.5 MiB; two full ones already pass
        // the node's 600 KiB.
        func openGreedyConnections() async throws -> Int {
            var count = 0
            for attacker in greedy { count += try await server.replyBacklogs(of: attacker.peerID).get().count }
            return count
        }
        let deadline = ContinuousClock.now + .seconds(40)
        while try await openGreedyConnections() > 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await openGreedyConnections() <= 2, "the node closed too few of the greedy connections")
        let queued = try await server.queuedReplyBytes().get()
        let oneConnection = settings.maxQueuedReplyBytesPerPeer + PeerConnectionHandler.busyReplyAllowance + Frame.headerLength + Self.replyBytes
        #expect(queued <= settings.maxQueuedReplyBytes + oneConnection, "\(queued) reply bytes queued for clients that read nothing")

        let honest = try await pair.start(seed: 2)
        #expect(try await pair.ping(honest, server).frame.type == .pong)
        for transport in [server, honest] { try await transport.shutdown().get() }
        try await pair.group.shutdownGracefully()
    }
}
