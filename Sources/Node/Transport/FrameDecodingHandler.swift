import Logging
import NIOCore
import Wire

/// Cuts the decrypted byte stream into Wire frames. (Outgoing frames go straight to
/// `SecureChannelHandler`, which seals their payloads in place.)
///
/// It sits above `SecureChannelHandler`, whose records authenticate every byte, so frames go
/// without the CRC-32C (the checksum field is zero and not checked: docs/protocol.md).
/// A stream that breaks framing (wrong magic or version, unknown type, or a payload above this
/// peer's limit) cannot be resynchronised: the connection is closed with a logged reason and
/// nothing after the bad frame is read.
final class FrameDecodingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Frame

    private var decoder: FrameDecoder
    private var failed = false
    private let logger: Logger

    init(maxPayloadLength: Int, logger: Logger) {
        self.decoder = FrameDecoder(maxPayloadLength: maxPayloadLength, verifiesChecksums: false)
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
}

/// A frame that breaks the protocol, passed up the pipeline so that the connection handler can
/// count it against the authenticated peer.
struct ProtocolViolation: Error, CustomStringConvertible {
    let description: String
}
