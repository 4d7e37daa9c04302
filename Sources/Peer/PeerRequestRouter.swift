import NIOCore
import Node
import Wire

/// Hands each inbound request the DHT does not serve to the handler registered for its type.
/// A type nobody registered fails, which closes the connection, as the DHT does with a type it
/// does not know.
struct PeerRequestRouter {
    typealias Handler = (Transport.InboundRequest) -> EventLoopFuture<Frame>

    let eventLoop: EventLoop
    private var handlers: [MessageType: Handler] = [:]

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    mutating func register(_ types: MessageType..., to handler: @escaping Handler) {
        for type in types {
            precondition(handlers[type] == nil, "two handlers registered for \(type)")
            handlers[type] = handler
        }
    }

    func serve(_ request: Transport.InboundRequest) -> EventLoopFuture<Frame> {
        guard let handler = handlers[request.frame.type] else { return eventLoop.makeFailedFuture(WireError.unknownMessageType) }
        return handler(request)
    }
}
