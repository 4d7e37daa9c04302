import CohortBase
import Admission
import DHT
import Logging
import NIOCore
import NIOEmbedded
@testable import Node
import Wire

/// The result of a future of the embedded loop, once it has one.
final class Outcome<Value> {
    private(set) var result: Result<Value, any Error>?

    init(_ future: EventLoopFuture<Value>) {
        future.assumeIsolated().whenComplete { self.result = $0 }
    }

    var value: Value? { try? result?.get() }

    var error: (any Error)? {
        guard case .failure(let error)? = result else { return nil }
        return error
    }
}

/// Stands for a socket that takes written bytes only when the test says so: while `isHolding`,
/// writes pass on but their promises wait for `release()`, as they would for a peer that does
/// not read.
final class WriteGate: ChannelOutboundHandler {
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    var isHolding = false
    private var held: [EventLoopPromise<Void>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard isHolding, let promise else {
            context.write(data, promise: promise)
            return
        }
        held.append(promise)
        context.write(data, promise: nil)
    }

    /// The socket takes everything written so far.
    func release() {
        let taken = held
        held = []
        taken.forEach { $0.succeed() }
    }
}

/// Counts the reads that reach the socket.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Frame

    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

/// What a `PeerConnectionHandler` told its pool, and the requests it asked the pool to serve,
/// which wait for the test to answer them unless `answer` is set.
final class ConnectionEventLog {
    let loop: EmbeddedEventLoop
    private(set) var established = 0
    private(set) var closed = 0
    private(set) var offences: [(peer: PeerID, offence: Offence)] = []
    /// Times the handler told the pool a reply was queued (for the node's bound over all connections).
    private(set) var replyQueuedCalls = 0
    private(set) var served: [Frame] = []
    private(set) var unanswered: [EventLoopPromise<Frame>] = []
    /// Answers each served request at once when set.
    var answer: ((Frame) -> Frame)?

    init(loop: EmbeddedEventLoop) {
        self.loop = loop
    }

    var events: PeerConnectionHandler.Events {
        PeerConnectionHandler.Events(
            established: { _ in self.established += 1 },
            closed: { _ in self.closed += 1 },
            serve: { frame, _ in
                self.served.append(frame)
                if let answer = self.answer { return self.loop.makeSucceededFuture(answer(frame)) }
                let promise = self.loop.makePromise(of: Frame.self)
                self.unanswered.append(promise)
                return promise.futureResult
            },
            offence: { peer, offence in self.offences.append((peer, offence)) },
            replyQueued: { self.replyQueuedCalls += 1 })
    }

    /// Answers the oldest request still being served with `reply`.
    func answerOldest(with reply: Frame) {
        unanswered.removeFirst().succeed(reply)
    }

    /// Fails the oldest request still being served, as a request that does not decode does.
    func failOldest(with error: any Error) {
        unanswered.removeFirst().fail(error)
    }
}

/// A `PeerConnectionHandler` in an `EmbeddedChannel` whose secure channel is played by the
/// test: it fires the established event itself, writes frames in and reads frames out, and
/// drives time with the embedded loop. Between the handler and the "socket" sit a read counter
/// and a write gate.
final class EmbeddedPeerConnection {
    static let peer = identity(2)

    let channel = EmbeddedChannel()
    let handler: PeerConnectionHandler
    let log: ConnectionEventLog
    let gate = WriteGate()
    let reads = ReadCounter()

    var loop: EmbeddedEventLoop { channel.embeddedEventLoop }

    init(settings: TransportSettings = TransportSettings()) throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        log = ConnectionEventLog(loop: channel.embeddedEventLoop)
        handler = PeerConnectionHandler(isInitiator: true, settings: settings, events: log.events, eventLoop: channel.eventLoop,
                                        logger: logger)
        try channel.pipeline.syncOperations.addHandlers([gate, reads, handler])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    /// The secure channel below has proven the peer, admitted with `token`.
    func establish(token: AccessToken? = nil) {
        channel.pipeline.syncOperations.fireUserInboundEventTriggered(SecureChannelEstablished(
            remotePeerID: Self.peer.peerID, remotePublicKey: Self.peer.publicKey, remoteToken: token))
    }

    func request(_ type: MessageType = .ping, payload: [UInt8] = [], timeout: TimeAmount = .seconds(10)) -> Outcome<Frame> {
        Outcome(handler.request(type: type, payload: payload, timeout: timeout, eventLoop: channel.eventLoop))
    }

    /// A frame from the peer.
    func receive(_ frame: Frame) throws {
        try channel.writeInbound(frame)
    }

    /// Every frame the handler wrote since the last call.
    func written() throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try channel.readOutbound(as: Frame.self) { frames.append(frame) }
        return frames
    }
}
