import NIOCore
@testable import Node
import Testing
import Wire

/// The secure channel's handshake phase and its outbound records, on an embedded channel whose
/// peer the test plays: deadlines on the loop's virtual clock, the errors that go up the
/// pipeline, and what is written to the peer.
@Suite struct SecureChannelHandlerTests {
    @Test func theEstablishedEventNamesTheProvenPeerAndComesOnce() throws {
        let harness = try EmbeddedSecureChannel()
        try harness.establish()
        #expect(harness.recorder.established.map(\.remotePeerID) == [EmbeddedSecureChannel.peerIdentity.peerID])
        #expect(harness.recorder.established.first?.remotePublicKey == EmbeddedSecureChannel.peerIdentity.publicKey)
        #expect(harness.recorder.established.first?.remoteToken == nil)
        #expect(harness.recorder.errors.isEmpty)
    }

    @Test func framesWrittenAfterTheHandshakeAreSealedForThePeer() throws {
        let harness = try EmbeddedSecureChannel()
        try harness.establish()
        let frames = [
            Frame(type: .ping, requestID: 1, payload: []),
            Frame(type: .averagedPart, requestID: 2, payload: (0..<(SecureRecord.maxPlaintextLength * 2 + 3)).map { UInt8($0 % 253) }),
            Frame(type: .pong, requestID: 3, payload: [7]),
        ]
        for frame in frames { try harness.channel.writeOutbound(frame) }
        #expect(try harness.writtenFrames() == frames)
    }

    @Test func aWriteBeforeTheHandshakeEndsFailsAndSendsNothing() throws {
        let harness = try EmbeddedSecureChannel()
        #expect(throws: ChannelError.ioOnClosedChannel) {
            try harness.channel.writeOutbound(Frame(type: .ping, requestID: 1, payload: []))
        }
        #expect(harness.written().isEmpty)
    }

    /// The responder sends its "admitted" and may send records at once: the initiator opens
    /// records that arrive in the same read as the verdict, after announcing the peer.
    @Test func recordsInTheSameReadAsTheVerdictAreOpenedAfterTheEstablishedEvent() throws {
        let harness = try EmbeddedSecureChannel(handlerRole: .initiator(expecting: EmbeddedSecureChannel.peerIdentity.peerID))
        let verdict = try harness.completePeerHandshake()
        let frames = [Frame(type: .ping, requestID: 1, payload: []), Frame(type: .pong, requestID: 2, payload: [1])]
        try harness.send(verdict + harness.sealed(frames))
        guard case .established? = harness.recorder.log.first else {
            Issue.record("first up the pipeline: \(String(describing: harness.recorder.log.first))")
            return
        }
        #expect(harness.recorder.frames == frames)
        #expect(harness.channel.isActive)
    }

    @Test func aBadRecordInTheSameReadAsTheVerdictClosesTheChannel() throws {
        let harness = try EmbeddedSecureChannel(handlerRole: .initiator(expecting: EmbeddedSecureChannel.peerIdentity.peerID))
        let verdict = try harness.completePeerHandshake()
        var record = try harness.sealed([Frame(type: .ping, requestID: 1, payload: [])])
        record[record.count - 1] ^= 1
        try harness.send(verdict + record)
        #expect(harness.recorder.established.count == 1)
        #expect(harness.recorder.frames.isEmpty)
        #expect(!harness.channel.isActive)
    }

    @Test func aHandshakeNotFinishedByItsDeadlineClosesWithTimedOut() throws {
        let harness = try EmbeddedSecureChannel(timeout: .seconds(5))
        harness.loop.advanceTime(by: .seconds(5) - .nanoseconds(1))
        #expect(harness.channel.isActive)
        harness.loop.advanceTime(by: .nanoseconds(1))
        #expect(!harness.channel.isActive)
        #expect(harness.recorder.errors.compactMap { $0 as? HandshakeError } == [.timedOut])
    }

    @Test func theDeadlineNoLongerAppliesOnceEstablished() throws {
        let harness = try EmbeddedSecureChannel(timeout: .seconds(5))
        try harness.establish()
        harness.loop.advanceTime(by: .hours(1))
        #expect(harness.channel.isActive)
        #expect(harness.recorder.errors.isEmpty)
    }

    /// Handshake input that no honest peer sends: one `HandshakeError` up the pipeline, the
    /// channel closed, nothing written back and no established event.
    @Test(arguments: [
        (Array("GET / HTTP/1.1\r\n\r\n".utf8), HandshakeError.malformed("")),
        (HandshakeMessage.magic + [HandshakeMessage.version, HandshakeMessage.Kind.initiatorHello.rawValue, 0xE8, 0x03],
         HandshakeError.oversized(1000)),
        (HandshakeMessage.magic + [HandshakeMessage.version + 1], HandshakeError.malformed("")),
        (HandshakeMessage.magic + [HandshakeMessage.version, HandshakeMessage.Kind.refusal.rawValue], HandshakeError.malformed("")),
    ])
    func aMalformedHandshakeClosesTheChannelWithItsError(_ bytes: [UInt8], _ expected: HandshakeError) throws {
        let harness = try EmbeddedSecureChannel()
        try harness.send(bytes)
        let errors = harness.recorder.errors.compactMap { $0 as? HandshakeError }
        #expect(errors.count == 1 && harness.recorder.errors.count == 1)
        switch (errors.first, expected) {
        case (.malformed?, .malformed), (.oversized?, .oversized): break
        default: Issue.record("got \(String(describing: errors.first)), expected \(expected)")
        }
        #expect(!harness.channel.isActive)
        #expect(harness.written().isEmpty)
        #expect(harness.recorder.established.isEmpty)
    }

    @Test func aPeerThatClosesDuringTheHandshakeIsReportedAsClosedEarly() throws {
        let harness = try EmbeddedSecureChannel()
        harness.channel.close(promise: nil)
        #expect(harness.recorder.errors.compactMap { $0 as? HandshakeError } == [.closedEarly])
        harness.loop.advanceTime(by: .seconds(10))
        #expect(harness.recorder.errors.count == 1, "the cancelled deadline fired after the close")
    }

    /// The responder's "admitted" is its last handshake message; a peer that resets the
    /// connection just then makes that write close the channel while the handler is still
    /// handling the handshake. The connection is gone, so nobody may hear it was established
    /// (the pool would keep a dead connection for the peer).
    @Test func aConnectionResetWhileTheVerdictIsWrittenIsNeverEstablished() throws {
        let harness = try EmbeddedSecureChannel()
        harness.socket.failingFlush = 2
        #expect(throws: HandshakeError.closedEarly) { _ = try harness.completePeerHandshake() }
        #expect(!harness.channel.isActive)
        #expect(harness.recorder.established.isEmpty, "established after the channel closed: \(harness.recorder.log)")
        #expect(throws: ChannelError.ioOnClosedChannel) {
            try harness.channel.writeOutbound(Frame(type: .ping, requestID: 1, payload: []))
        }
    }

    @Test func aRespondingPeerWithAnotherIdentityIsRefused() throws {
        let harness = try EmbeddedSecureChannel(handlerRole: .initiator(expecting: identity(77).peerID))
        #expect(throws: HandshakeError.self) { _ = try harness.completePeerHandshake() }
        #expect(harness.recorder.errors.compactMap { $0 as? HandshakeError }
            == [.unexpectedPeer(expected: identity(77).peerID, actual: EmbeddedSecureChannel.peerIdentity.peerID)])
        #expect(!harness.channel.isActive)
        #expect(harness.recorder.established.isEmpty)
    }
}
