import DHT
import Logging
import NIOCore

/// Fired down the pipeline once the handshake has proven the peer.
struct SecureChannelEstablished: Sendable {
    let remotePeerID: PeerID
}

/// Runs the handshake on a fresh TCP connection, then seals and opens encrypted records.
///
/// Inbound it turns sealed bytes into plaintext bytes; outbound, plaintext into records. Writes
/// before the handshake ends are a programming error (the connection handler waits for
/// `SecureChannelEstablished`). A failed handshake, a record that does not authenticate, or a
/// deadline that passes closes the connection with a logged reason.
final class SecureChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking(Handshake)
        case established(sealer: RecordSealer, opener: RecordOpener)
        case closed
    }

    private var state: State
    private let timeout: TimeAmount
    private var logger: Logger
    private var deadline: Scheduled<Void>?

    init(handshake: Handshake, timeout: TimeAmount, logger: Logger) {
        self.state = .handshaking(handshake)
        self.timeout = timeout
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
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        switch state {
        case .handshaking:
            handshakeEvent(context: context) { $0.onBytes(bytes) }
        case .established:
            openRecords(bytes, context: context)
        case .closed:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .established(var sealer, let opener) = state else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        var buffer = unwrapOutboundIn(data)
        do {
            let sealed = try sealer.seal(buffer.readBytes(length: buffer.readableBytes) ?? [])
            state = .established(sealer: sealer, opener: opener)
            context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: sealed)), promise: promise)
        } catch {
            promise?.fail(error)
            close(context: context, reason: "\(error)")
        }
    }

    private func handshakeEvent(context: ChannelHandlerContext, _ event: (inout Handshake) -> [Handshake.Action]) {
        guard case .handshaking(var handshake) = state else { return }
        let actions = event(&handshake)
        state = .handshaking(handshake)
        for action in actions {
            switch action {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .established(let keys, let leftover):
                deadline?.cancel()
                state = .established(sealer: RecordSealer(key: keys.sendKey), opener: RecordOpener(key: keys.receiveKey))
                logger.debug("secure channel established", metadata: ["peer.id": "\(keys.remotePeerID)"])
                context.fireUserInboundEventTriggered(SecureChannelEstablished(remotePeerID: keys.remotePeerID))
                if !leftover.isEmpty { openRecords(leftover, context: context) }
            case .failed(let error):
                deadline?.cancel()
                logger.info("handshake failed", metadata: ["reason": "\(error)"])
                state = .closed
                context.close(promise: nil)
            }
        }
    }

    private func openRecords(_ bytes: [UInt8], context: ChannelHandlerContext) {
        guard case .established(let sealer, var opener) = state else { return }
        opener.feed(bytes)
        var plaintexts: [[UInt8]] = []
        do {
            while let plaintext = try opener.next() { plaintexts.append(plaintext) }
        } catch {
            close(context: context, reason: "\(error)")
            return
        }
        state = .established(sealer: sealer, opener: opener)
        for plaintext in plaintexts {
            context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: plaintext)))
        }
    }

    private func close(context: ChannelHandlerContext, reason: String) {
        guard case .established = state else { return }
        logger.info("closing connection: bad encrypted record", metadata: ["reason": "\(reason)"])
        state = .closed
        context.close(promise: nil)
    }
}
