import CohortBase
import Admission
import DHT
import Logging
import NIOCore
import NIOPosix
import Wire

/// The connections of one node, confined to its event loop: at most one in use per peer,
/// dials shared by concurrent requests, the connection limit, and the simultaneous-dial tie
/// rule (docs/protocol.md, "Connection rules"), and the admission rules every handshake checks,
/// which grow as revocation lists arrive.
final class ConnectionPool {
    let eventLoop: EventLoop
    let identity: PeerIdentity
    let settings: TransportSettings
    let logger: Logger
    /// Serves requests from peers; set before the server binds.
    var serve: (Frame, PeerID) -> EventLoopFuture<Frame>
    var serverChannel: Channel?
    /// The admission rules new handshakes check; nil in an open run.
    private(set) var rules: AdmissionRules?
    /// The last reason a peer gave for refusing this node, for the operator.
    private(set) var lastRefusal: AdmissionRefusal?
    /// Addresses whose node refused this one as revoked (at most `maxRevokedRefusers`).
    private(set) var refusingAsRevoked: Set<Endpoint> = []
    static let maxRevokedRefusers = 64

    private var open: [ObjectIdentifier: PeerConnectionHandler] = [:]
    private var preferred: [PeerID: PeerConnectionHandler] = [:]
    private var dials: [Endpoint: EventLoopFuture<PeerID>] = [:]
    private var endpointPeers: [Endpoint: PeerID] = [:]
    private var isShuttingDown = false
    /// Accepted connections still in their handshake, by remote IP address, and each such
    /// connection's address.
    private var handshakingPerAddress: [String: Int] = [:]
    private var handshakingAddresses: [ObjectIdentifier: String] = [:]
    let bans: BanKeeper

    init(identity: PeerIdentity, settings: TransportSettings, eventLoop: EventLoop, logger: Logger,
         serve: @escaping (Frame, PeerID) -> EventLoopFuture<Frame>) {
        self.identity = identity
        self.settings = settings
        self.eventLoop = eventLoop
        self.logger = logger
        self.serve = serve
        self.rules = settings.admission.rules
        bans = BanKeeper(settings: settings.bans, clock: settings.admission.clock, eventLoop: eventLoop, logger: logger)
    }

    /// Connections open or opening.
    var openCount: Int { open.count }
    /// Peers with a connection in use.
    var connectedPeers: [PeerID] { Array(preferred.keys) }

    /// Reply bytes each connection with `peer` holds unread, and whether it is still read.
    func replyBacklogs(of peer: PeerID) -> [(queuedBytes: Int, isRead: Bool)] {
        open.values.filter { $0.peerID == peer }.map { ($0.queuedReplyBytes, !$0.readHeld) }
    }

    /// Accepted connections open or opening.
    private var inboundCount: Int { open.values.count { !$0.isInitiator } }

    /// Sets up an accepted connection, or closes it when the node is full (the slots kept for
    /// dials aside) or shutting down, or when its address already has
    /// `maxHandshakingConnectionsPerAddress` handshakes open.
    func accept(_ channel: Channel) -> EventLoopFuture<Void> {
        guard !isShuttingDown, open.count < settings.maxConnections,
              inboundCount < settings.maxInboundConnections else {
            logger.info("refusing connection", metadata: ["reason": "\(isShuttingDown ? "shutting down" : "connection limit")"])
            return channel.close()
        }
        let address = channel.remoteAddress?.ipAddress ?? ""
        guard handshakingPerAddress[address, default: 0] < settings.maxHandshakingConnectionsPerAddress else {
            logger.info("refusing connection", metadata: ["address": "\(address)", "reason": "too many handshakes from this address"])
            return channel.close()
        }
        return eventLoop.makeCompletedFuture {
            let connection = try install(on: channel, role: .responder)
            handshakingPerAddress[address, default: 0] += 1
            handshakingAddresses[ObjectIdentifier(connection)] = address
        }
    }

    /// An accepted connection's handshake is over (it succeeded, or the connection closed).
    private func endHandshake(of connection: PeerConnectionHandler) {
        guard let address = handshakingAddresses.removeValue(forKey: ObjectIdentifier(connection)) else { return }
        handshakingPerAddress[address, default: 1] -= 1
        if handshakingPerAddress[address] == 0 { handshakingPerAddress[address] = nil }
    }

    /// A reply from the peer at `endpoint` (which must prove `expecting`, when set) to a new request.
    func request(_ type: MessageType, payload: [UInt8], to endpoint: Endpoint, expecting: PeerID?,
                 timeout: TimeAmount) -> EventLoopFuture<(Frame, PeerID)> {
        guard !isShuttingDown else { return eventLoop.makeFailedFuture(TransportError.shutDown) }
        if let expecting, bans.isBanned(expecting) { return eventLoop.makeFailedFuture(TransportError.banned) }
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        return connection(to: endpoint, expecting: expecting).flatMap { peer in
            pool.value.request(type, payload: payload, overOpenConnectionTo: peer, timeout: timeout).map { ($0, peer) }
        }
    }

    /// A reply from `peer` over the connection open to it, without dialling; fails with
    /// `TransportError.connectionClosed` when there is none.
    func request(_ type: MessageType, payload: [UInt8], overOpenConnectionTo peer: PeerID,
                 timeout: TimeAmount) -> EventLoopFuture<Frame> {
        guard !isShuttingDown else { return eventLoop.makeFailedFuture(TransportError.shutDown) }
        guard let connection = preferred[peer], connection.isUsable else {
            return eventLoop.makeFailedFuture(TransportError.connectionClosed)
        }
        return connection.request(type: type, payload: payload, timeout: timeout, eventLoop: eventLoop)
    }

    /// Closes the server and every connection; outstanding requests fail. Completes when all are closed.
    func shutdown() -> EventLoopFuture<Void> {
        isShuttingDown = true
        bans.cancel()
        var closing: [EventLoopFuture<Void>] = []
        if let serverChannel { closing.append(serverChannel.close()) }
        for connection in open.values {
            connection.close()
        }
        closing += open.values.compactMap { $0.closeFuture }
        return EventLoopFuture.andAllComplete(closing, on: eventLoop)
    }

    /// The proven identity of the node at `endpoint`: the connection open to it, or a new dial.
    func identify(_ endpoint: Endpoint) -> EventLoopFuture<PeerID> {
        guard !isShuttingDown else { return eventLoop.makeFailedFuture(TransportError.shutDown) }
        return connection(to: endpoint, expecting: nil)
    }

    private func connection(to endpoint: Endpoint, expecting: PeerID?) -> EventLoopFuture<PeerID> {
        if let peer = expecting ?? endpointPeers[endpoint], preferred[peer]?.isUsable == true {
            return eventLoop.makeSucceededFuture(peer)
        }
        let dial = dials[endpoint] ?? startDial(to: endpoint, expecting: expecting)
        guard let expecting else { return dial }
        return dial.flatMapThrowing { peer in
            guard peer == expecting else { throw HandshakeError.unexpectedPeer(expected: expecting, actual: peer) }
            return peer
        }
    }

    private func startDial(to endpoint: Endpoint, expecting: PeerID?) -> EventLoopFuture<PeerID> {
        guard open.count < settings.maxConnections else { return eventLoop.makeFailedFuture(TransportError.tooManyConnections) }
        let established = eventLoop.makePromise(of: PeerID.self)
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        let role = Handshake.Role.initiator(expecting: expecting)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.writeBufferWaterMark, value: watermark)
            .channelOption(.recvAllocator, value: Self.receiveAllocator)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = try pool.value.install(on: channel, role: role)
                    established.completeWith(connection.establishedPromise.futureResult)
                }
            }
            .connect(host: endpoint.host, port: Int(endpoint.port))
            .whenFailure { _ in established.fail(TransportError.connectionClosed) }
        dials[endpoint] = established.futureResult
        established.futureResult.assumeIsolated().whenComplete { result in
            pool.value.dials[endpoint] = nil
            switch result {
            case .success(let peer):
                pool.value.endpointPeers[endpoint] = peer
            case .failure(HandshakeError.refusedByPeer(let refusal)):
                pool.value.lastRefusal = refusal
                if refusal.reason == .revoked && pool.value.refusingAsRevoked.count < Self.maxRevokedRefusers {
                    pool.value.refusingAsRevoked.insert(endpoint)
                }
                pool.value.logger.info("a peer refused this node", metadata: ["address": "\(endpoint)", "reason": "\(refusal)"])
            case .failure:
                break
            }
        }
        return established.futureResult
    }

    /// Reads grow up to 512 KiB on busy connections (NIO's default stops at 64 KiB), so that
    /// most 64 KiB records arrive whole in one read and are opened in place instead of being
    /// put together from two; NIO reuses the read buffers, and idle connections shrink back.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16 * 1024, maximum: 512 * 1024)

    var watermark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: settings.sendBufferLowWatermark, high: settings.sendBufferHighWatermark)
    }

    @discardableResult
    private func install(on channel: Channel, role: Handshake.Role) throws -> PeerConnectionHandler {
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        let events = PeerConnectionHandler.Events(
            established: { pool.value.onEstablished($0) },
            closed: { pool.value.onClosed($0) },
            serve: { pool.value.serve($0, $1) },
            offence: { pool.value.onOffence($1, by: $0) },
            replyQueued: { pool.value.onReplyQueued() })
        let connectionLogger = logger
        let connection = PeerConnectionHandler(isInitiator: role != .responder, settings: settings, events: events,
                                               eventLoop: eventLoop, logger: connectionLogger)
        let handshake = Handshake(role: role, identity: identity, rules: rules, ownToken: settings.admission.ownToken)
        try channel.pipeline.syncOperations.addHandlers([
            SecureChannelHandler(handshake: handshake, maxPayloadLength: settings.maxMessageBytes,
                                 timeout: settings.handshakeTimeout, clock: settings.admission.clock, logger: connectionLogger),
            connection,
        ])
        open[ObjectIdentifier(connection)] = connection
        connection.closeFuture = channel.closeFuture
        return connection
    }

    /// Beyond the node's bound on queued reply bytes (`maxQueuedReplyBytes`), closes the
    /// connections that hold the most of them until the rest is within it. Each connection's
    /// own bound stops one peer that does not read its replies; this one stops many (one
    /// attacker's many identities) from growing the node's memory together, and it closes the
    /// greediest, so peers that read their replies keep being served.
    func onReplyQueued() {
        let holding = open.values.filter { !$0.isClosing && $0.queuedReplyBytes > 0 }
        var total = holding.reduce(0) { $0 + $1.queuedReplyBytes }
        guard total > settings.maxQueuedReplyBytes else { return }
        for connection in holding.sorted(by: { $0.queuedReplyBytes > $1.queuedReplyBytes }) {
            guard total > settings.maxQueuedReplyBytes else { break }
            total -= connection.queuedReplyBytes
            connection.close(reason: "the node's queued replies passed \(settings.maxQueuedReplyBytes) bytes and this peer left "
                + "the most unread (\(connection.queuedReplyBytes) bytes)")
        }
    }

    /// Reply bytes queued on all connections and not yet taken by their sockets.
    var queuedReplyBytes: Int { open.values.reduce(0) { $0 + $1.queuedReplyBytes } }

    /// Counts an offence; when it bans the peer, closes every connection with it.
    func onOffence(_ offence: Offence, by peer: PeerID) {
        guard bans.record(offence, by: peer) else { return }
        for connection in open.values where connection.peerID == peer {
            connection.close()
        }
    }

    private func onEstablished(_ connection: PeerConnectionHandler) {
        endHandshake(of: connection)
        guard let peer = connection.peerID else { return }
        guard !isShuttingDown else {
            connection.close()
            return
        }
        guard !bans.isBanned(peer) else {
            logger.info("refusing connection", metadata: ["peer.id": "\(peer)", "reason": "banned"])
            connection.close()
            return
        }
        // The handshake checked the rules of when it began; a revocation list may have come since.
        if let rules, let key = connection.peerPublicKey, rules.revokedKeys.contains(key) {
            logger.info("refusing connection", metadata: ["peer.id": "\(peer)", "reason": "revoked during its handshake"])
            connection.close()
            return
        }
        let others = open.values.filter { $0 !== connection && $0.peerID == peer }.count
        guard others < settings.maxConnectionsPerPeer else {
            logger.info("refusing connection", metadata: ["peer.id": "\(peer)", "reason": "\(others) connections open already"])
            connection.close()
            return
        }
        guard let existing = preferred[peer], existing !== connection, existing.isUsable else {
            preferred[peer] = connection
            return
        }
        let keepNew = Self.prefers(connection, over: existing, ownID: identity.peerID, peer: peer)
        preferred[peer] = keepNew ? connection : existing
        (keepNew ? existing : connection).retire()
    }

    /// The simultaneous-dial tie rule: of two connections between the same peers, both keep
    /// the one opened by the peer with the smaller id; of two opened in the same direction, the newer.
    static func prefers(_ new: PeerConnectionHandler, over existing: PeerConnectionHandler, ownID: PeerID, peer: PeerID) -> Bool {
        guard new.isInitiator != existing.isInitiator else { return true }
        let weOpenedTheKeeper = ownID < peer
        return new.isInitiator == weOpenedTheKeeper
    }

    /// Applies the newest valid list among `encodedLists` (values from the DHT) and closes the
    /// connections of peers it revokes. Returns the list applied, nil when none was newer.
    func applyNewestRevocations(of encodedLists: [[UInt8]]) -> RevocationList? {
        guard var rules, let list = rules.applyNewest(of: encodedLists) else { return nil }
        self.rules = rules
        closeRevoked(by: list)
        return list
    }

    /// Applies one list (the coordinator's own); throws when it is not the run's.
    func applyRevocations(_ list: RevocationList) throws(AdmissionError) -> Bool {
        guard var rules else { throw AdmissionError("this node admits anyone; it has no revocation list to apply") }
        guard try rules.apply(list) else { return false }
        self.rules = rules
        closeRevoked(by: list)
        return true
    }

    private func closeRevoked(by list: RevocationList) {
        let revoked = Set(list.contents.revokedKeys)
        logger.info("applied a revocation list", metadata: ["sequence": "\(list.contents.sequence)", "revoked": "\(revoked.count)"])
        for connection in open.values {
            guard let key = connection.peerPublicKey, revoked.contains(key) else { continue }
            connection.close(reason: "the peer's key is revoked (revocation list \(list.contents.sequence))")
        }
    }

    private func onClosed(_ connection: PeerConnectionHandler) {
        endHandshake(of: connection)
        open[ObjectIdentifier(connection)] = nil
        if let peer = connection.peerID, preferred[peer] === connection { preferred[peer] = nil }
    }
}
