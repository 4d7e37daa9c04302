import CohortBase
import Crypto
import DHT
import Logging
import NIOCore
import NIOEmbedded
@testable import Node
import Testing
import Wire

/// What a handler passed up the pipeline, in order.
final class InboundRecorder: ChannelInboundHandler {
    typealias InboundIn = Frame

    enum Entry {
        case established(SecureChannelEstablished)
        case frame(Frame)
        case error(any Error)
        case inactive
    }

    private(set) var log: [Entry] = []

    var frames: [Frame] { log.compactMap { if case .frame(let frame) = $0 { frame } else { nil } } }
    var errors: [any Error] { log.compactMap { if case .error(let error) = $0 { error } else { nil } } }
    var established: [SecureChannelEstablished] {
        log.compactMap { if case .established(let event) = $0 { event } else { nil } }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        log.append(.frame(unwrapInboundIn(data)))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let established = event as? SecureChannelEstablished { log.append(.established(established)) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.append(.error(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        log.append(.inactive)
    }
}

/// Stands for a socket that the peer resets: the flush numbered `failingFlush` closes the
/// channel instead, while the handler that flushed is still in its call, as NIO closes a
/// channel whose write fails.
final class ResettingSocket: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    var failingFlush: Int?
    private var flushes = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        if flushes == failingFlush {
            context.close(promise: nil)
        } else {
            context.flush()
        }
    }
}

/// A `SecureChannelHandler` in an `EmbeddedChannel`, with the peer at the other end played by
/// the test: a bare `Handshake` machine, then its own record sealer and opener, so that the
/// test can send the handler any bytes, authentic or not, cut into reads as it likes.
final class EmbeddedSecureChannel {
    static let handlerIdentity = identity(1)
    static let peerIdentity = identity(2)
    /// Fixed ephemeral keys: every harness derives the same session keys.
    static var handlerEphemeral: Curve25519.KeyAgreement.PrivateKey { ephemeralKey(seed: 11) }
    static var peerEphemeral: Curve25519.KeyAgreement.PrivateKey { ephemeralKey(seed: 12) }

    let channel = EmbeddedChannel()
    let recorder = InboundRecorder()
    let socket = ResettingSocket()
    private var peer: Handshake
    /// Seals what the test sends the handler, once the peer's handshake is established.
    private(set) var sealer: RecordSealer?
    private var opener: RecordOpener?

    var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

    /// The handler in `role`, refusing frame payloads above `maxPayloadLength` and handshakes
    /// that take longer than `timeout`; the channel is active, so its handshake has started.
    init(handlerRole: Handshake.Role = .responder, maxPayloadLength: Int = 4096, timeout: TimeAmount = .seconds(5)) throws {
        let handshake = Handshake(role: handlerRole, identity: Self.handlerIdentity, ephemeralKey: Self.handlerEphemeral)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let handler = SecureChannelHandler(handshake: handshake, maxPayloadLength: maxPayloadLength, timeout: timeout,
                                           clock: ManualClock(wall: .epoch), logger: logger)
        peer = handlerRole == .responder
            ? Handshake(role: .initiator(expecting: Self.handlerIdentity.peerID), identity: Self.peerIdentity,
                        ephemeralKey: Self.peerEphemeral)
            : Handshake(role: .responder, identity: Self.peerIdentity, ephemeralKey: Self.peerEphemeral)
        try channel.pipeline.syncOperations.addHandlers([socket, handler, recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    static func ephemeralKey(seed: UInt64) -> Curve25519.KeyAgreement.PrivateKey {
        var generator = SeededBytes(seed: seed)
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: bytes) else {
            preconditionFailure("32 bytes are an X25519 key")
        }
        return key
    }

    /// Runs the handshake until the test's peer is established; returns the peer's last
    /// message when the handler has yet to receive it (it is the initiator), so that a test can
    /// send records in the same read. Throws the peer's `HandshakeError`, or `closedEarly` when
    /// the handler stops answering.
    func completePeerHandshake() throws -> [UInt8] {
        var toHandler = Self.sentBytes(peer.start())
        while sealer == nil {
            if !toHandler.isEmpty {
                try send(toHandler)
                toHandler = []
            }
            let fromHandler = written()
            guard !fromHandler.isEmpty else { throw HandshakeError.closedEarly }
            for action in peer.onBytes(fromHandler, now: .epoch) {
                switch action {
                case .send(let bytes): toHandler += bytes
                case .established(let keys, _):
                    sealer = RecordSealer(key: keys.sendKey)
                    opener = RecordOpener(key: keys.receiveKey)
                case .failed(let error): throw error
                }
            }
        }
        return toHandler
    }

    /// Runs the whole handshake: both sides are established.
    func establish() throws {
        let rest = try completePeerHandshake()
        if !rest.isEmpty { try send(rest) }
        try #require(recorder.established.count == 1, "the handler is not established")
    }

    /// One read of `bytes` by the handler.
    func send(_ bytes: [UInt8]) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
    }

    /// Records carrying `frames`, as an honest peer seals them.
    func sealed(_ frames: [Frame]) throws -> [UInt8] {
        var output = ByteBuffer()
        for frame in frames { try sealer!.seal(frame, into: &output) }
        return Array(output.readableBytesView)
    }

    /// Records carrying `plaintext` (not necessarily a frame) under the peer's key.
    func sealed(plaintext: [UInt8]) throws -> [UInt8] {
        try sealer!.seal(plaintext)
    }

    /// Every byte the handler wrote since the last call.
    func written() -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    /// The frames in the records the handler wrote since the last call.
    func writtenFrames() throws -> [Frame] {
        var plaintext = ByteBuffer()
        var failure: SecureRecordError?
        written().withUnsafeBytes { records in
            do throws(SecureRecordError) { try opener!.open(records, into: &plaintext) } catch { failure = error }
        }
        if let failure { throw failure }
        var decoder = FrameDecoder(verifiesChecksums: false)
        decoder.feed(plaintext.readableBytesView)
        var frames: [Frame] = []
        while case .frame(let frame) = try decoder.next() { frames.append(frame) }
        return frames
    }

    /// Where each record of `stream` starts, read from the length headers.
    static func recordStarts(of stream: [UInt8]) -> [Int] {
        var starts: [Int] = []
        var offset = 0
        while offset + 4 <= stream.count {
            starts.append(offset)
            offset += 4 + (Int(stream[offset]) | Int(stream[offset + 1]) << 8 | Int(stream[offset + 2]) << 16 | Int(stream[offset + 3]) << 24)
        }
        return starts
    }

    private static func sentBytes(_ actions: [Handshake.Action]) -> [UInt8] {
        actions.flatMap { action -> [UInt8] in if case .send(let bytes) = action { bytes } else { [] } }
    }
}
