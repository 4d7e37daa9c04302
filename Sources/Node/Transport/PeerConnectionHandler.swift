import CohortBase
import Admission
import DHT
import Logging
import NIOCore
import Wire

/// Request/response over one authenticated connection: request ids, deadlines, in-flight
/// limits in both directions, read backpressure (on requests being served and on replies the
/// peer leaves unread), injected faults, closing when the peer's access token expires or the
/// connection stays idle, and failing everything outstanding when the connection closes.
final class PeerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    /// How the handler reports to its pool; called on the event loop.
    struct Events {
        var established: (PeerConnectionHandler) -> Void
        var closed: (PeerConnectionHandler) -> Void
        var serve: (Frame, PeerID) -> EventLoopFuture<Frame>
        /// The peer broke the protocol (a bad frame, a request that does not decode).
        var offence: (PeerID, Offence) -> Void
        /// A reply was queued: the node checks its bound on queued reply bytes over all connections.
        var replyQueued: () -> Void
    }

    private struct Pending {
        var promise: EventLoopPromise<Frame>
        var deadline: Scheduled<Void>
    }

    let isInitiator: Bool
    private(set) var peerID: PeerID?
    /// The peer's proven Ed25519 key, once established.
    private(set) var peerPublicKey: [UInt8]?
    /// The token the peer was admitted with; nil in an open run and for the run key's holder.
    private(set) var peerToken: AccessToken?
    /// Why the handshake failed, when it did: a dial fails with it rather than a plain close.
    private var handshakeFailure: HandshakeError?
    private var tokenExpiry: Scheduled<Void>?
    private var idleTimeout: Scheduled<Void>?
    /// When the last frame went either way, on the event loop's clock (`EventLoop.now`), which
    /// an `EmbeddedEventLoop` lets tests advance.
    private var lastActivity: NIODeadline
    /// When the last frame came from the peer: a request that times out with nothing heard
    /// since it was sent finds the connection dead (`closeIfSilentSince`).
    private var lastReceived: NIODeadline
    private(set) var isRetired = false
    private var isClosed = false
    /// Set once this side asked for the close; the channel may not have closed yet.
    private(set) var isClosing = false
    private var context: ChannelHandlerContext?
    private let settings: TransportSettings
    private let events: Events
    private var logger: Logger
    /// Completed with the proven peer id once the handshake is over (dialled connections wait on it).
    let establishedPromise: EventLoopPromise<PeerID>
    /// Completes when the channel has closed.
    var closeFuture: EventLoopFuture<Void>?
    private var pending: [UInt64: Pending] = [:]
    private var nextRequestID: UInt64 = 1
    private var serving = 0
    /// Payload bytes of the requests being served.
    private var servingBytes = 0
    /// Bytes of replies written and not yet taken by the socket.
    private(set) var queuedReplyBytes = 0
    private(set) var readHeld = false

    /// Room for "busy" answers past `maxQueuedReplyBytesPerPeer` before the connection stops
    /// being read. Two peers whose replies to each other both pass the bound must still read
    /// each other, or neither queue would drain; an honest peer has at most its in-flight
    /// limit of requests answered busy (a few KiB), so only a peer that never reads gets here.
    static let busyReplyAllowance = 64 * 1024

    init(isInitiator: Bool, settings: TransportSettings, events: Events, eventLoop: EventLoop, logger: Logger) {
        self.isInitiator = isInitiator
        self.settings = settings
        self.events = events
        self.logger = logger
        self.establishedPromise = eventLoop.makePromise(of: PeerID.self)
        self.lastActivity = eventLoop.now
        self.lastReceived = eventLoop.now
    }

    /// Established, not closed, and not the loser of a duplicate-connection tie.
    var isUsable: Bool { peerID != nil && !isClosed && !isRetired }
    /// Nothing outstanding in either direction.
    var isIdle: Bool { pending.isEmpty && serving == 0 }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let established = event as? SecureChannelEstablished else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        peerID = established.remotePeerID
        peerPublicKey = established.remotePublicKey
        peerToken = established.remoteToken
        logger[metadataKey: "peer.id"] = "\(established.remotePeerID)"
        if let token = established.remoteToken { closeAtExpiry(of: token, context: context) }
        lastActivity = context.eventLoop.now
        scheduleIdleTimeout(at: lastActivity + settings.idleTimeout, on: context.eventLoop)
        events.established(self)
        establishedPromise.succeed(established.remotePeerID)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        context.fireChannelInactive()
    }

    /// An admission lasts as long as the token: the connection closes when it expires.
    private func closeAtExpiry(of token: AccessToken, context: ChannelHandlerContext) {
        // Capped at about 95 years, so that a far-future expiry cannot overflow the timer's nanoseconds.
        let remaining = min(max(.zero, token.claims.expiresAt - settings.admission.clock.now().wall), .seconds(3_000_000_000))
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        tokenExpiry = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(remaining)) {
            handler.value.close(reason: "the peer's access token expired")
        }
    }

    /// Closes the connection once nothing is in flight and no frame went either way for
    /// `idleTimeout`, so that a peer cannot hold a connection slot forever for nothing.
    private func scheduleIdleTimeout(at deadline: NIODeadline, on eventLoop: EventLoop) {
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        idleTimeout = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            let connection = handler.value
            let idleUntil = connection.lastActivity + connection.settings.idleTimeout
            if connection.isIdle && idleUntil <= eventLoop.now {
                connection.close(reason: "idle for \(connection.settings.idleTimeout)")
            } else {
                let next = connection.isIdle ? idleUntil : eventLoop.now + connection.settings.idleTimeout
                connection.scheduleIdleTimeout(at: next, on: eventLoop)
            }
        }
    }

    /// A channel that never became active (its connect failed) is torn down without `channelInactive`.
    func handlerRemoved(context: ChannelHandlerContext) {
        closed()
    }

    /// Fails everything outstanding and tells the pool, once.
    private func closed() {
        guard !isClosed else { return }
        isClosed = true
        tokenExpiry?.cancel()
        idleTimeout?.cancel()
        establishedPromise.fail(handshakeFailure ?? TransportError.connectionClosed)
        let failed = pending
        pending = [:]
        for request in failed.values {
            request.deadline.cancel()
            request.promise.fail(TransportError.connectionClosed)
        }
        events.closed(self)
        context = nil
    }

    func read(context: ChannelHandlerContext) {
        if isServingAtLimit || isReplyQueueFull {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// As many requests, or request bytes, being served as this peer may have.
    private var isServingAtLimit: Bool {
        serving >= settings.maxInboundRequestsPerPeer || servingBytes >= settings.maxInboundRequestBytesPerPeer
    }

    /// As many reply bytes unread by the peer as it may leave: new requests get "busy".
    private var isReplyQueueAtBound: Bool { queuedReplyBytes >= settings.maxQueuedReplyBytesPerPeer }

    /// Even the "busy" answers go unread: the connection is no longer read, and requests
    /// already read are dropped.
    private var isReplyQueueFull: Bool {
        queuedReplyBytes >= settings.maxQueuedReplyBytesPerPeer + Self.busyReplyAllowance
    }

    /// A failed handshake is kept to say why the connection ended. A frame that breaks the
    /// protocol arrived from the peer (`SecureChannelHandler` sends it up before closing the
    /// connection); only an authenticated peer can be blamed for it.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let failure = error as? HandshakeError { handshakeFailure = failure }
        guard let violation = error as? ProtocolViolation else {
            context.fireErrorCaught(error)
            return
        }
        if let peerID {
            events.offence(peerID, Offence(.protocolViolation, violation.description))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let peerID else { return }
        lastActivity = context.eventLoop.now
        lastReceived = lastActivity
        if frame.type.isRequest {
            serve(frame, from: peerID)
        } else if let request = pending.removeValue(forKey: frame.requestID) {
            request.deadline.cancel()
            request.promise.succeed(frame)
        }
    }

    /// Sends a request and returns its reply frame, or fails with a `TransportError`.
    func request(type: MessageType, payload: [UInt8], timeout: TimeAmount, eventLoop: EventLoop) -> EventLoopFuture<Frame> {
        guard let context, isUsable else { return eventLoop.makeFailedFuture(TransportError.connectionClosed) }
        guard pending.count < settings.maxOutboundRequestsPerPeer else {
            return eventLoop.makeFailedFuture(TransportError.tooManyRequestsInFlight)
        }
        guard context.channel.isWritable else { return eventLoop.makeFailedFuture(TransportError.backpressure) }
        let requestID = nextRequestID
        nextRequestID += 1
        let promise = eventLoop.makePromise(of: Frame.self)
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        let sentAt = context.eventLoop.now
        let deadline = eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            guard let expired = handler.value.pending.removeValue(forKey: requestID) else { return }
            // Closed first, so that a caller retrying from the failure dials afresh instead
            // of queuing behind the dead connection.
            handler.value.closeIfSilentSince(sentAt)
            expired.promise.fail(TransportError.timedOut)
        }
        pending[requestID] = Pending(promise: promise, deadline: deadline)
        lastActivity = sentAt
        send(Frame(type: type, requestID: requestID, payload: payload))
        return promise.futureResult
    }

    /// Stops new requests on this connection and closes it once idle (after a grace period, so
    /// a request the peer sent before it saw the tie resolved is still answered).
    func retire() {
        guard !isRetired, let eventLoop = context?.eventLoop else { return }
        isRetired = true
        logger.debug("retiring duplicate connection")
        scheduleIdleCheck(on: eventLoop)
    }

    /// Closes the connection; outstanding requests fail with `connectionClosed`.
    func close() {
        isClosing = true
        context?.close(promise: nil)
    }

    /// A request timed out and not one frame came from the peer since it was sent: the link
    /// went down without a FIN or RST (a partition, a machine that lost power), and TCP would
    /// keep the connection for many minutes, each later request waiting out its timeout behind
    /// retransmissions that back off to tens of seconds, long after the link came back. Closed,
    /// the next request dials afresh. A peer only slow to serve this request loses nothing
    /// but a handshake.
    private func closeIfSilentSince(_ sentAt: NIODeadline) {
        guard lastReceived < sentAt else { return }
        close(reason: "no frame from the peer since a request that timed out")
    }

    /// Closes the connection and logs why.
    func close(reason: String) {
        guard !isClosed else { return }
        logger.info("closing connection", metadata: ["reason": "\(reason)"])
        close()
    }

    private func scheduleIdleCheck(on eventLoop: EventLoop) {
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        eventLoop.assumeIsolated().scheduleTask(in: settings.duplicateGracePeriod) {
            let connection = handler.value
            guard !connection.isClosed else { return }
            if connection.isIdle { connection.close() } else { connection.scheduleIdleCheck(on: eventLoop) }
        }
    }

    private func serve(_ frame: Frame, from peerID: PeerID) {
        guard let context else { return }
        let bytes = frame.payload.count
        // Requests read in the same read as the one that filled the queue get no answer: the
        // peer reads none of them.
        guard !isReplyQueueFull else { return }
        guard !isReplyQueueAtBound else {
            answerBusy(frame, because: "too many reply bytes unread")
            return
        }
        guard serving == 0 || (serving < settings.maxInboundRequestsPerPeer
            && servingBytes + bytes <= settings.maxInboundRequestBytesPerPeer) else {
            answerBusy(frame, because: "too many requests in flight")
            return
        }
        serving += 1
        servingBytes += bytes
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        events.serve(frame, peerID).assumeIsolated().whenComplete { result in
            let connection = handler.value
            connection.serving -= 1
            connection.servingBytes -= bytes
            switch result {
            case .success(let reply):
                connection.sendReply(Frame(type: reply.type, requestID: frame.requestID, payload: reply.payload))
            case .failure(let error):
                connection.logger.info("closing connection: bad request", metadata: ["reason": "\(error)"])
                connection.events.offence(peerID, Offence(.protocolViolation,
                                                          "sent a \(frame.type) request that does not decode: \(error)"))
                connection.close()
            }
            connection.resumeReadingIfHeld()
        }
    }

    private func answerBusy(_ request: Frame, because reason: String) {
        let busy = DHTMessage.error(.init(code: TransportErrorCode.busy, message: reason))
        sendReply(busy.frame(requestID: request.requestID))
    }

    private func resumeReadingIfHeld() {
        guard readHeld, !isServingAtLimit, !isReplyQueueFull, let context else { return }
        readHeld = false
        context.read()
    }

    /// Writes a reply, counted in `queuedReplyBytes` until the socket has taken it (or the
    /// connection closed).
    private func sendReply(_ frame: Frame) {
        guard let context else { return }
        let bytes = frame.encodedLength
        queuedReplyBytes += bytes
        lastActivity = context.eventLoop.now
        let written = context.eventLoop.makePromise(of: Void.self)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        written.futureResult.assumeIsolated().whenComplete { _ in
            let connection = handler.value
            connection.queuedReplyBytes -= bytes
            connection.resumeReadingIfHeld()
        }
        send(frame, written: written)
        events.replyQueued()
    }

    /// Writes a frame, through the injected faults when any are set for this peer; `written`
    /// completes once the socket has taken it, it was dropped, or the connection closed.
    private func send(_ frame: Frame, written: EventLoopPromise<Void>? = nil) {
        guard let context else {
            written?.fail(TransportError.connectionClosed)
            return
        }
        guard let peerID, let link = settings.faults.link(to: peerID) else {
            context.writeAndFlush(wrapOutboundOut(frame), promise: written)
            return
        }
        if link.lossRate > 0 && Double.random(in: 0..<1) < link.lossRate {
            written?.succeed()
            return
        }
        guard link.delay > .zero else {
            context.writeAndFlush(wrapOutboundOut(frame), promise: written)
            return
        }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.assumeIsolated().scheduleTask(in: link.delay) {
            guard let context = handler.value.context else {
                written?.fail(TransportError.connectionClosed)
                return
            }
            context.writeAndFlush(handler.value.wrapOutboundOut(frame), promise: written)
        }
    }
}
