import DHT
import NIOCore
@testable import Node
import Testing
import Wire

/// The requests a peer sends over one connection, on an embedded channel: how many are served
/// at once, when they are answered "busy", when the connection stops being read, and what
/// happens to the replies of a peer that does not read them (the write gate stands for its
/// full socket).
@Suite struct PeerConnectionServingTests {
    func established(_ configure: (inout TransportSettings) -> Void = { _ in }) throws -> EmbeddedPeerConnection {
        var settings = TransportSettings()
        configure(&settings)
        let connection = try EmbeddedPeerConnection(settings: settings)
        connection.establish()
        return connection
    }

    static func ping(_ id: UInt64, payload: [UInt8] = []) -> Frame {
        Frame(type: .ping, requestID: id, payload: payload)
    }

    static func isBusy(_ frame: Frame?) -> Bool {
        guard let frame, case .error(let error)? = try? DHTMessage(frame: frame) else { return false }
        return error.code == TransportErrorCode.busy
    }

    @Test func aServedRequestIsAnsweredUnderItsRequestID() throws {
        let connection = try established()
        try connection.receive(Self.ping(41))
        #expect(connection.log.served == [Self.ping(41)])
        connection.log.answerOldest(with: Frame(type: .pong, requestID: 0, payload: [5]))
        #expect(try connection.written() == [Frame(type: .pong, requestID: 41, payload: [5])])
        #expect(connection.handler.isIdle)
    }

    /// At the limit, a request read is answered "busy" at once and the next read waits until
    /// a request being served is answered.
    @Test func requestsBeyondTheServingLimitAreAnsweredBusyAndReadingWaits() throws {
        let connection = try established { $0.maxInboundRequestsPerPeer = 2 }
        try connection.receive(Self.ping(1))
        try connection.receive(Self.ping(2))
        try connection.receive(Self.ping(3))
        #expect(connection.log.served.map(\.requestID) == [1, 2])
        let busy = try connection.written()
        #expect(busy.map(\.requestID) == [3] && Self.isBusy(busy.first))

        let readsBefore = connection.reads.count
        connection.channel.read()
        #expect(connection.reads.count == readsBefore, "read on while at the limit")
        #expect(connection.handler.readHeld)
        connection.log.answerOldest(with: DHTMessage.pong.frame(requestID: 0))
        #expect(connection.reads.count == readsBefore + 1, "the held read was not resumed")
        #expect(!connection.handler.readHeld)
        connection.channel.read()
        #expect(connection.reads.count == readsBefore + 2)
    }

    /// One request is served whatever its size (every frame within the limit gets through); a
    /// second that would pass the byte bound while it is served gets "busy".
    @Test func aSingleRequestIsServedWhateverItsSizeAndTheNextIsBusy() throws {
        let connection = try established { $0.maxInboundRequestBytesPerPeer = 100 }
        try connection.receive(Self.ping(1, payload: [UInt8](repeating: 0, count: 1_000)))
        try connection.receive(Self.ping(2, payload: [0]))
        #expect(connection.log.served.map(\.requestID) == [1])
        #expect(Self.isBusy(try connection.written().first))
        connection.channel.read()
        #expect(connection.handler.readHeld)
        connection.log.answerOldest(with: DHTMessage.pong.frame(requestID: 0))
        #expect(!connection.handler.readHeld)
        try connection.receive(Self.ping(3, payload: [0]))
        #expect(connection.log.served.map(\.requestID) == [1, 3])
    }

    /// Replies the peer leaves unread count until the socket takes them; at the bound new
    /// requests are answered "busy" instead of served.
    @Test func requestsPastTheUnreadReplyBoundAreAnsweredBusy() throws {
        let connection = try established { $0.maxQueuedReplyBytesPerPeer = 1_000 }
        let reply = Frame(type: .pong, requestID: 0, payload: [UInt8](repeating: 1, count: 600))
        connection.log.answer = { _ in reply }
        connection.gate.isHolding = true
        for id: UInt64 in 1...3 { try connection.receive(Self.ping(id)) }
        #expect(connection.log.served.map(\.requestID) == [1, 2])
        let written = try connection.written()
        #expect(written.map(\.requestID) == [1, 2, 3])
        #expect(Self.isBusy(written.last))
        #expect(connection.handler.queuedReplyBytes == 2 * reply.encodedLength + written[2].encodedLength)
        #expect(connection.log.replyQueuedCalls == 3, "the node hears of every reply queued, busy answers included")

        connection.gate.release()
        #expect(connection.handler.queuedReplyBytes == 0)
        try connection.receive(Self.ping(4))
        #expect(connection.log.served.map(\.requestID) == [1, 2, 4])
    }

    /// A peer that sends requests and never reads: past the bound and the room for "busy"
    /// answers, the connection is no longer read and requests already read go unanswered;
    /// once the socket takes the replies, reading resumes and requests are served again.
    @Test func pastTheRoomForBusyAnswersReadingStopsUntilThePeerReads() throws {
        let connection = try established { $0.maxQueuedReplyBytesPerPeer = 1_000 }
        let large = Frame(type: .stateChunk, requestID: 0,
                          payload: [UInt8](repeating: 1, count: PeerConnectionHandler.busyReplyAllowance + 1_000))
        connection.log.answer = { _ in large }
        connection.gate.isHolding = true
        try connection.receive(Self.ping(1))
        try connection.receive(Self.ping(2))
        #expect(connection.log.served.map(\.requestID) == [1])
        #expect(try connection.written().map(\.requestID) == [1], "a request read past the room was answered")
        let readsBefore = connection.reads.count
        connection.channel.read()
        #expect(connection.reads.count == readsBefore)
        #expect(connection.handler.readHeld)

        connection.gate.release()
        #expect(connection.reads.count == readsBefore + 1)
        #expect(!connection.handler.readHeld)
        try connection.receive(Self.ping(3))
        #expect(connection.log.served.map(\.requestID) == [1, 3])
    }

    /// A request the pool cannot serve (its payload does not decode) is an offence by the peer
    /// and closes the connection.
    @Test func aRequestThatFailsToServeClosesTheConnectionAndBlamesThePeer() throws {
        let connection = try established()
        try connection.receive(Self.ping(1))
        connection.log.failOldest(with: WireError.truncated)
        #expect(!connection.channel.isActive)
        #expect(connection.log.offences.map(\.peer) == [EmbeddedPeerConnection.peer.peerID])
        #expect(connection.log.offences.map(\.offence.kind) == [.protocolViolation])
        #expect(try connection.written().isEmpty)
    }

    @Test func aReplyReadyAfterTheCloseIsDropped() throws {
        let connection = try established()
        try connection.receive(Self.ping(1))
        connection.channel.close(promise: nil)
        connection.log.answerOldest(with: DHTMessage.pong.frame(requestID: 0))
        #expect(try connection.written().isEmpty)
        #expect(connection.handler.queuedReplyBytes == 0)
        #expect(connection.log.closed == 1)
    }
}
