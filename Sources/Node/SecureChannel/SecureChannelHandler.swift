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

/// Runs the handshake on a fresh TCP connection, then seals and opens encrypted records.
///
/// Inbound it turns sealed bytes into plaintext bytes for the frame decoder; outbound it seals
/// frames into records (`RecordSealer.seal(_:into:)`, which reads large payloads in place). Writes
/// before the handshake ends are a programming error (the connection handler waits for
/// `SecureChannelEstablished`). A failed handshake, a record that does not authenticate, or a
/// deadline that passes closes the connection with a logged reason; a failed handshake is also
/// passed on as an error, so that a dial fails with its reason (a refused token, say).
final class SecureChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking(Handshake)
        case established(sealer: RecordSealer, opener: RecordOpener)
        case closed
    }

    private var state: State
    private let timeout: TimeAmount
    private let clock: @Sendable () -> UInt64
    private var logger: Logger
    private var deadline: Scheduled<Void>?
    private var plaintext = ByteBuffer()

    init(handshake: Handshake, timeout: TimeAmount, clock: @escaping @Sendable () -> UInt64, logger: Logger) {
        self.state = .handshaking(handshake)
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
            let now = clock()
            handshakeEvent(context: context) { $0.onBytes(bytes, now: now) }
        case .established:
            buffer.withUnsafeReadableBytes { openRecords($0, context: context) }
        case .closed:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .established(var sealer, let opener) = state else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        let frame = unwrapOutboundIn(data)
        var sealed = context.channel.allocator.buffer(capacity: RecordSealer.sealedCapacity(of: frame))
        // Drop the state's reference first, so the sealer's scratch buffer is reused in place.
        state = .closed
        do {
            try sealer.seal(frame, into: &sealed)
            state = .established(sealer: sealer, opener: opener)
            context.write(wrapOutboundOut(sealed), promise: promise)
        } catch {
            state = .established(sealer: sealer, opener: opener)
            promise?.fail(error)
            close(context: context, reason: "\(error)")
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
                deadline?.cancel()
                state = .established(sealer: RecordSealer(key: keys.sendKey), opener: RecordOpener(key: keys.receiveKey))
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

    /// Opens the records `bytes` completes and passes their plaintext on as one buffer. The
    /// buffer is reused from read to read: the frame decoder copies what it needs before
    /// `fireChannelRead` returns.
    private func openRecords(_ bytes: UnsafeRawBufferPointer, context: ChannelHandlerContext) {
        guard case .established(let sealer, var opener) = state else { return }
        // Drop the state's reference first, so the opener keeps a cut-off record in place instead of copying it.
        state = .closed
        plaintext.clear()
        do {
            try opener.open(bytes, into: &plaintext)
        } catch {
            state = .established(sealer: sealer, opener: opener)
            close(context: context, reason: "\(error)")
            return
        }
        state = .established(sealer: sealer, opener: opener)
        if plaintext.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(plaintext))
        }
    }

    private func close(context: ChannelHandlerContext, reason: String) {
        guard case .established = state else { return }
        logger.info("closing connection: bad encrypted record", metadata: ["reason": "\(reason)"])
        state = .closed
        context.close(promise: nil)
    }
}
