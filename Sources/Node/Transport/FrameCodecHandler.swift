import Logging
import NIOCore
import Wire

/// Cuts the decrypted byte stream into Wire frames and encodes outgoing frames.
///
/// A stream that breaks framing (wrong magic or version, bad checksum, unknown type, or a
/// payload above this peer's limit) cannot be resynchronised: the connection is closed with a
/// logged reason and nothing after the bad frame is read.
final class FrameCodecHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = ByteBuffer

    private var decoder: FrameDecoder
    private var failed = false
    private let logger: Logger

    init(maxPayloadLength: Int, logger: Logger) {
        self.decoder = FrameDecoder(maxPayloadLength: maxPayloadLength)
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.feed($0) }
        while true {
            do {
                guard case .frame(let frame) = try decoder.next() else { return }
                context.fireChannelRead(wrapInboundOut(frame))
            } catch {
                failed = true
                logger.info("closing connection: bad frame", metadata: ["reason": "\(error)"])
                context.fireErrorCaught(ProtocolViolation(description: "sent a bad frame: \(error)"))
                context.close(promise: nil)
                return
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        let length = frame.encodedLength
        var buffer = context.channel.allocator.buffer(capacity: length)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { destination in
            frame.encode(into: destination)
            return length
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}

/// A frame that breaks the protocol, passed up the pipeline so that the connection handler can
/// count it against the authenticated peer.
struct ProtocolViolation: Error, CustomStringConvertible {
    let description: String
}
