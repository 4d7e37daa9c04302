import DHT
import NIOCore
@testable import Node
import Testing
import Wire

/// The requests a node sends over one connection, on an embedded channel with virtual time:
/// request ids, the in-flight limit, writability, deadlines, and what a close does to the
/// requests still waiting.
@Suite struct PeerConnectionHandlerTests {
    func established(_ configure: (inout TransportSettings) -> Void = { _ in }) throws -> EmbeddedPeerConnection {
        var settings = TransportSettings()
        configure(&settings)
        let connection = try EmbeddedPeerConnection(settings: settings)
        connection.establish()
        return connection
    }

    @Test func repliesAreMatchedToTheirRequestsByIDInAnyOrder() throws {
        let connection = try established()
        let requests = (0..<3).map { connection.request(payload: [UInt8($0)]) }
        #expect(try connection.written().map(\.requestID) == [1, 2, 3])
        for id: UInt64 in [3, 1, 2] {
            try connection.receive(Frame(type: .pong, requestID: id, payload: [UInt8(id)]))
        }
        #expect(requests.map { $0.value?.payload } == [[1], [2], [3]])
        #expect(try connection.channel.readInbound(as: Frame.self) == nil, "a reply went further up the pipeline")
    }

    /// A reply nobody asked for, or a second reply to one request, changes nothing.
    @Test func unexpectedAndDuplicateRepliesAreDropped() throws {
        let connection = try established()
        let first = connection.request()
        let second = connection.request()
        try connection.receive(Frame(type: .pong, requestID: 1, payload: [1]))
        try connection.receive(Frame(type: .pong, requestID: 1, payload: [9]))
        try connection.receive(Frame(type: .pong, requestID: 77, payload: [9]))
        try connection.receive(Frame(type: .pong, requestID: 0, payload: [9]))
        #expect(first.value?.payload == [1])
        #expect(second.result == nil)
        try connection.receive(Frame(type: .pong, requestID: 2, payload: [2]))
        #expect(second.value?.payload == [2])
        #expect(connection.log.served.isEmpty)
        #expect(connection.channel.isActive)
    }

    @Test func requestsBeyondTheInFlightLimitFailAtOnceAndSendNothing() throws {
        let connection = try established { $0.maxOutboundRequestsPerPeer = 2 }
        let inFlight = [connection.request(), connection.request()]
        let refused = connection.request()
        #expect(refused.error as? TransportError == .tooManyRequestsInFlight)
        #expect(try connection.written().count == 2)
        try connection.receive(Frame(type: .pong, requestID: 1, payload: []))
        #expect(inFlight[0].value != nil)
        let next = connection.request()
        #expect(next.result == nil)
        #expect(try connection.written().map(\.requestID) == [3], "a failed request used up an id")
    }

    @Test func aRequestWhileTheSendBufferIsFullFailsWithBackpressure() throws {
        let connection = try established()
        connection.channel.isWritable = false
        #expect(connection.request().error as? TransportError == .backpressure)
        #expect(try connection.written().isEmpty)
        connection.channel.isWritable = true
        let request = connection.request()
        #expect(request.result == nil)
        #expect(try connection.written().count == 1)
    }

    /// The peer goes on talking (a request of its own comes in) but never answers this one.
    @Test func aRequestWithoutAReplyTimesOutAtItsDeadlineAndFreesItsSlot() throws {
        let connection = try established { $0.maxOutboundRequestsPerPeer = 1 }
        let request = connection.request(timeout: .seconds(3))
        connection.loop.advanceTime(by: .seconds(1))
        try connection.receive(Frame(type: .ping, requestID: 1, payload: []))
        connection.loop.advanceTime(by: .seconds(2) - .nanoseconds(1))
        #expect(request.result == nil)
        connection.loop.advanceTime(by: .nanoseconds(1))
        #expect(request.error as? TransportError == .timedOut)
        try connection.receive(Frame(type: .pong, requestID: 1, payload: []))
        #expect(request.error as? TransportError == .timedOut, "a late reply changed a timed-out request")
        let next = connection.request()
        #expect(next.result == nil, "the timed-out request still holds its slot")
        #expect(connection.channel.isActive)
    }

    /// A link that went down without a FIN (a partition) leaves TCP retransmitting with growing
    /// pauses long after it comes back; every request over the old connection would wait out
    /// its timeout. Nothing heard since a request that timed out: the connection is closed, its
    /// other requests fail at once, and the pool dials afresh next time.
    @Test func aRequestThatTimesOutWithNothingHeardSinceItWasSentClosesTheConnection() throws {
        let connection = try established()
        try connection.receive(Frame(type: .ping, requestID: 1, payload: []))
        connection.loop.advanceTime(by: .seconds(1))
        let first = connection.request(timeout: .seconds(2))
        let second = connection.request(timeout: .seconds(10))
        connection.loop.advanceTime(by: .seconds(2))
        #expect(first.error as? TransportError == .timedOut)
        #expect(second.error as? TransportError == .connectionClosed)
        #expect(!connection.channel.isActive)
        #expect(!connection.handler.isUsable)
        #expect(connection.log.closed == 1)
    }

    /// A reply to another request, after this one was sent, shows the connection alive.
    @Test func aReplyToAnotherRequestKeepsTheConnectionWhenOneTimesOut() throws {
        let connection = try established()
        let slow = connection.request(timeout: .seconds(2))
        let quick = connection.request(timeout: .seconds(2))
        connection.loop.advanceTime(by: .milliseconds(500))
        try connection.receive(Frame(type: .pong, requestID: 2, payload: []))
        connection.loop.advanceTime(by: .seconds(2))
        #expect(quick.value != nil)
        #expect(slow.error as? TransportError == .timedOut)
        #expect(connection.channel.isActive)
        #expect(connection.handler.isUsable)
    }

    /// Every request still waiting fails with `connectionClosed` when the connection closes, its
    /// deadline no longer fires, and the pool hears of the close once.
    @Test func aCloseFailsEveryPendingRequestOnce() throws {
        let connection = try established()
        let pending = (0..<3).map { _ in connection.request(timeout: .seconds(5)) }
        connection.channel.close(promise: nil)
        #expect(pending.allSatisfy { $0.error as? TransportError == .connectionClosed })
        connection.loop.advanceTime(by: .seconds(10))
        #expect(pending.allSatisfy { $0.error as? TransportError == .connectionClosed })
        #expect(connection.log.closed == 1)
        #expect(connection.request().error as? TransportError == .connectionClosed)
        #expect(!connection.handler.isUsable)
    }

    @Test func nothingIsSentOrServedBeforeTheHandshakeEnds() throws {
        let connection = try EmbeddedPeerConnection()
        #expect(connection.request().error as? TransportError == .connectionClosed)
        try connection.receive(Frame(type: .ping, requestID: 1, payload: []))
        #expect(connection.log.served.isEmpty)
        #expect(try connection.written().isEmpty)
        connection.establish()
        #expect(connection.log.established == 1)
        #expect(Outcome(connection.handler.establishedPromise.futureResult).value == EmbeddedPeerConnection.peer.peerID)
    }

    /// A dial whose handshake failed fails with the handshake's reason rather than a plain close.
    @Test func aFailedHandshakeFailsTheDialWithItsReason() throws {
        let connection = try EmbeddedPeerConnection()
        let dial = Outcome(connection.handler.establishedPromise.futureResult)
        connection.channel.pipeline.syncOperations.fireErrorCaught(HandshakeError.badSignature)
        #expect(throws: HandshakeError.badSignature) { try connection.channel.throwIfErrorCaught() }
        connection.channel.close(promise: nil)
        #expect(dial.error as? HandshakeError == .badSignature)
        #expect(connection.log.established == 0 && connection.log.closed == 1)
    }

    @Test func aConnectionClosedBeforeItsHandshakeFailsTheDialAsClosed() throws {
        let connection = try EmbeddedPeerConnection()
        let dial = Outcome(connection.handler.establishedPromise.futureResult)
        connection.channel.close(promise: nil)
        #expect(dial.error as? TransportError == .connectionClosed)
    }

    /// A bad frame (reported by the secure channel below) counts against the proven peer, and
    /// only once the handshake has proven who that is.
    @Test func aProtocolViolationIsCountedAgainstTheProvenPeerOnly() throws {
        let connection = try EmbeddedPeerConnection()
        connection.channel.pipeline.syncOperations.fireErrorCaught(ProtocolViolation(description: "before"))
        #expect(connection.log.offences.isEmpty)
        connection.establish()
        connection.channel.pipeline.syncOperations.fireErrorCaught(ProtocolViolation(description: "after"))
        #expect(connection.log.offences.map(\.peer) == [EmbeddedPeerConnection.peer.peerID])
        #expect(connection.log.offences.map(\.offence.kind) == [.protocolViolation])
        #expect(throws: Never.self) { try connection.channel.throwIfErrorCaught() }
    }

    @Test func anInjectedDelayHoldsAFrameBackAndACloseMeanwhileSendsNothing() throws {
        let connection = try established { $0.faults = FaultInjection(allPeers: .init(delay: .milliseconds(200))) }
        let delayed = connection.request()
        connection.loop.advanceTime(by: .milliseconds(199))
        #expect(try connection.written().isEmpty)
        connection.loop.advanceTime(by: .milliseconds(1))
        #expect(try connection.written().map(\.requestID) == [1])

        let cut = connection.request()
        connection.channel.close(promise: nil)
        connection.loop.advanceTime(by: .seconds(1))
        #expect(try connection.written().isEmpty)
        #expect(cut.error as? TransportError == .connectionClosed)
        #expect(delayed.error as? TransportError == .connectionClosed)
    }

    @Test func injectedTotalLossEndsInTheRequestsTimeout() throws {
        let connection = try established { $0.faults = FaultInjection(allPeers: .init(lossRate: 1)) }
        let lost = connection.request(timeout: .seconds(2))
        #expect(try connection.written().isEmpty)
        connection.loop.advanceTime(by: .seconds(2))
        #expect(lost.error as? TransportError == .timedOut)
    }
}
