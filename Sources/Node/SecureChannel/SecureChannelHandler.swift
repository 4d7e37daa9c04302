import CohortBase
import Admission
import DHT
import Logging
import NIOCore
import Wire

/// Fired down the pipeline once the handshake has proven the peer.
struct SecureChannelEstablished: Sendable {
    let remotePeerID: PeerID
    let remotePublicKey: [UInt8]
    /// The token the peer was admitted with; nil in an open run and for the run key's holder.
    let remoteToken: AccessToken?
}

/// Runs the handshake on a fresh TCP connection, then carries frames in encrypted records.
///
/// Inbound it opens records and cuts their plaintext into frames (`FrameOpener`, which decrypts
/// large payloads straight into the frames' memory); outbound it seals frames into records
/// (`RecordSealer.seal(_:into:)`, which reads large payloads in place). Writes before the
/// handshake ends are a programming error (the connection handler waits for
/// `SecureChannelEstablished`). A failed handshake, a record that does not authenticate, or a
/// deadline that passes closes the connection with a logged reason; a failed handshake is also
/// passed on as an error, so that a dial fails with its reason (a refused token, say).
///
/// Frames go without the CRC-32C inside records, which authenticate every byte (the checksum
/// field is zero and not checked: docs/protocol.md). A stream that breaks framing (wrong magic
/// or version, unknown type, or a payload above this peer's limit) cannot be resynchronised:
/// the connection is closed with a logged reason, nothing after the bad frame is read, and a
/// `ProtocolViolation` goes up the pipeline so that the authenticated peer can be blamed.
final class SecureChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking(Handshake)
        case established
        case closed
    }

    private var state: State
    /// Set when the handshake ends; the cipher states live outside `state` so that they are
    /// mutated in place rather than copied out of an enum payload.
    private var sealer: RecordSealer?
    private var opener: FrameOpener?
    private let maxPayloadLength: Int
    private let timeout: TimeAmount
    private let clock: any ProtocolClock
    private var logger: Logger
    private var deadline: Scheduled<Void>?

    init(handshake: Handshake, maxPayloadLength: Int, timeout: TimeAmount, clock: any ProtocolClock, logger: Logger) {
        self.state = .handshaking(handshake)
        self.maxPayloadLength = maxPayloadLength
        self.timeout = timeout
        self.clock = clock
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        logger[metadataKey: "remote.address"] = "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            handler.value.handshakeEvent(context: boundContext.value) { $0.onTimeout() }
        }
        handshakeEvent(context: context) { $0.start() }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if case .handshaking = state {
            handshakeEvent(context: context) { $0.onClose() }
        }
        state = .closed
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        switch state {
        case .handshaking:
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            let now = clock.now().wall
            handshakeEvent(context: context) { $0.onBytes(bytes, now: now) }
        case .established:
            buffer.withUnsafeReadableBytes { openRecords($0, context: context) }
        case .closed:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .established = state, sealer != nil else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let frame = unwrapOutboundIn(data)
        var sealed = context.channel.allocator.buffer(capacity: RecordSealer.sealedCapacity(of: frame))
        do {
            try sealer!.seal(frame, into: &sealed)
            context.write(wrapOutboundOut(sealed), promise: promise)
        } catch {
            promise?.fail(error)
            close(context: context, because: "bad encrypted record", error)
        }
    }

    private func handshakeEvent(context: ChannelHandlerContext, _ event: (inout Handshake) -> [Handshake.Action]) {
        guard case .handshaking(var handshake) = state else { return }
        let actions = event(&handshake)
        state = .handshaking(handshake)
        var lastWrite: EventLoopFuture<Void>?
        for action in actions {
            switch action {
            case .send(let bytes):
                lastWrite = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)))
            case .established(let keys, let leftover):
                // The write just before (the responder's "admitted") may have closed the channel:
                // NIO closes it at once when a write fails. A closed connection is never established.
                guard case .handshaking = state else { return }
                deadline?.cancel()
                state = .established
                sealer = RecordSealer(key: keys.sendKey)
                opener = FrameOpener(key: keys.receiveKey, maxPayloadLength: maxPayloadLength)
                logger.debug("secure channel established", metadata: ["peer.id": "\(keys.remotePeerID)"])
                context.fireUserInboundEventTriggered(SecureChannelEstablished(
                    remotePeerID: keys.remotePeerID, remotePublicKey: keys.remotePublicKey, remoteToken: keys.remoteToken))
                if !leftover.isEmpty { leftover.withUnsafeBytes { openRecords($0, context: context) } }
            case .failed(let error):
                deadline?.cancel()
                logger.info("handshake failed", metadata: ["reason": "\(error)"])
                state = .closed
                context.fireErrorCaught(error)
                // A refusal must reach the peer before the close, so the close waits for its write.
                let channel = context.channel
                if let lastWrite {
                    lastWrite.whenComplete { _ in channel.close(promise: nil) }
                } else {
                    context.close(promise: nil)
                }
            }
        }
    }

    /// Opens the records `bytes` completes and passes the frames they complete on.
    private func openRecords(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        guard case .established = state, opener != nil else { return }
        do {
            try opener!.open(bytes)
        } catch {
            close(context: context, because: "bad encrypted record", error)
            return
        }
        while case .established = state {
            do {
                guard let frame = try opener!.nextFrame() else { return }
                context.fireChannelRead(wrapInboundOut(frame))
            } catch {
                context.fireErrorCaught(ProtocolViolation(description: "sent a bad frame: \(error)"))
                close(context: context, because: "bad frame", error)
                return
            }
        }
    }

    private func close(context: ChannelHandlerContext, because what: String, _ error: any Error) {
        guard case .established = state else { return }
        logger.info("closing connection: \(what)", metadata: ["reason": "\(error)"])
        state = .closed
        sealer = nil
        opener = nil
        context.close(promise: nil)
    }
}

/// A frame that breaks the protocol, passed up the pipeline so that the connection handler can
/// count it against the authenticated peer.
struct ProtocolViolation: Error, CustomStringConvertible {
    let description: String
}
