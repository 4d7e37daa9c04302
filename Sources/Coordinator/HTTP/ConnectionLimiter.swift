import NIOConcurrencyHelpers
import NIOCore

/// Caps the dashboard's open connections: while `maximum` are open, a newly accepted one is
/// closed at once, before any handler or buffer is set up for it.
///
/// Sits in the listening channel's pipeline, where accepted connections arrive one by one in
/// the order the kernel accepted them. Without it, a client that opens connections by the
/// thousand holds as many file descriptors and HTTP parsers in the coordinator.
final class ConnectionLimiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    private let maximum: Int
    private let open = NIOLockedValueBox(0)

    init(maximum: Int) {
        self.maximum = maximum
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let accepted = unwrapInboundIn(data)
        let admitted = open.withLockedValue { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
        guard admitted else {
            accepted.close(promise: nil)
            return
        }
        accepted.closeFuture.whenComplete { [open] _ in
            open.withLockedValue { $0 -= 1 }
        }
        context.fireChannelRead(data)
    }
}
