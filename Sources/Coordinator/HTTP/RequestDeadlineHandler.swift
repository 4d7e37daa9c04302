import CohortBase
import NIOCore
import NIOHTTP1

/// Closes a connection that has not sent a whole request within `timeout` of being accepted or
/// of its last answer.
///
/// A read timeout alone would not do: a client that sends one header byte every few seconds is
/// never idle, yet never finishes its request, and would hold its connection for good
/// (slowloris). The deadline covers the whole request instead, and also the wait for the next
/// request on a connection kept alive. Time spent answering does not count.
final class RequestDeadlineHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        startClock(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopClock()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopClock()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            stopClock()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            startClock(context)
        }
        context.write(data, promise: promise)
    }

    private func startClock(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    private func stopClock() {
        deadline?.cancel()
        deadline = nil
    }
}
