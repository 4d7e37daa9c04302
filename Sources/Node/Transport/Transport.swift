import CohortBase
import Admission
import DHT
import Logging
import NIOCore
import NIOPosix
import Wire

/// A node's network endpoint: a TCP server and client on one event loop, every connection
/// authenticated and encrypted by the Cohort handshake, one connection in use per peer.
///
/// Protocol shells (the DHT, later averaging) send requests with `request` and serve requests
/// through the closure given to `start`. All connection state lives on `eventLoop`.
public final class Transport: Sendable {
    /// One request received from an authenticated peer.
    public struct InboundRequest: Sendable {
        public let frame: Frame
        public let peer: PeerID
    }

    /// A reply and the peer that proved it sent it.
    public struct Reply: Sendable {
        public let frame: Frame
        public let peer: PeerID
    }

    public let identity: PeerIdentity
    public let settings: TransportSettings
    public let eventLoop: EventLoop
    /// Where the server listens (with the OS-chosen port when 0 was asked).
    public let boundEndpoint: Endpoint
    private let pool: NIOLoopBound<ConnectionPool>

    private init(identity: PeerIdentity, settings: TransportSettings, pool: NIOLoopBound<ConnectionPool>, boundEndpoint: Endpoint) {
        self.identity = identity
        self.settings = settings
        self.eventLoop = pool.value.eventLoop
        self.pool = pool
        self.boundEndpoint = boundEndpoint
    }

    /// The endpoint other peers should dial: the bound one, or the advertised host and port.
    public var advertisedEndpoint: Endpoint {
        Endpoint(host: settings.advertisedHost ?? boundEndpoint.host, port: settings.advertisedPort ?? boundEndpoint.port)
    }

    /// Binds the server on `settings.listen` and starts accepting. `serve` answers each
    /// request with a reply frame (type and payload; the request id is set here), or fails to
    /// have the connection closed as misbehaving. It is called on `eventLoop`.
    public static func start(identity: PeerIdentity, settings: TransportSettings, eventLoop: EventLoop, logger: Logger,
                             serve: @escaping @Sendable (InboundRequest) -> EventLoopFuture<Frame>) -> EventLoopFuture<Transport> {
        eventLoop.flatSubmit {
            let pool = NIOLoopBound(ConnectionPool(identity: identity, settings: settings, eventLoop: eventLoop, logger: logger,
                                                   serve: { serve(InboundRequest(frame: $0, peer: $1)) }),
                                    eventLoop: eventLoop)
            return ServerBootstrap(group: eventLoop)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: pool.value.watermark)
                .childChannelOption(.recvAllocator, value: ConnectionPool.receiveAllocator)
                .childChannelInitializer { pool.value.accept($0) }
                .bind(host: settings.listen.host, port: Int(settings.listen.port))
                .flatMapThrowing { channel in
                    pool.value.serverChannel = channel
                    guard let port = channel.localAddress?.port else { throw TransportError.shutDown }
                    let bound = Endpoint(host: settings.listen.host, port: UInt16(port))
                    logger.info("listening", metadata: ["peer.id": "\(identity.peerID)", "address": "\(bound)"])
                    return Transport(identity: identity, settings: settings, pool: pool, boundEndpoint: bound)
                }
        }
    }

    /// Sends a request to the peer at `endpoint`, reusing the connection to it or dialling one.
    /// When `expecting` is set the peer must prove that id in the handshake. Fails with a
    /// `TransportError` (or the `HandshakeError` of a failed dial) when no reply comes.
    public func request(_ type: MessageType, payload: [UInt8], to endpoint: Endpoint, expecting: PeerID?,
                        timeout: TimeAmount) -> EventLoopFuture<Reply> {
        let pool = self.pool
        return eventLoop.flatSubmit {
            pool.value.request(type, payload: payload, to: endpoint, expecting: expecting, timeout: timeout)
                .map { Reply(frame: $0.0, peer: $0.1) }
        }
    }

    /// Sends a request to `peer` over the connection open to it, for a peer that cannot be
    /// dialled (client mode). Fails with `TransportError.connectionClosed` when none is open.
    public func request(_ type: MessageType, payload: [UInt8], overOpenConnectionTo peer: PeerID,
                        timeout: TimeAmount) -> EventLoopFuture<Reply> {
        let pool = self.pool
        return eventLoop.flatSubmit {
            pool.value.request(type, payload: payload, overOpenConnectionTo: peer, timeout: timeout)
                .map { Reply(frame: $0, peer: peer) }
        }
    }

    /// Counts an offence by `peer` (callable from any thread); enough of them within the
    /// window ban it (`TransportSettings.bans`): its connections close and new ones are refused.
    public func reportOffence(_ offence: Offence, by peer: PeerID) {
        let pool = self.pool
        eventLoop.execute { pool.value.onOffence(offence, by: peer) }
    }

    /// The peers banned now.
    public func bannedPeers() -> EventLoopFuture<Set<PeerID>> {
        let pool = self.pool
        return eventLoop.submit { pool.value.bans.banned }
    }

    /// The bans now and a generation number that changes whenever they do. On `eventLoop` only.
    public var currentBans: (generation: Int, peers: Set<PeerID>) {
        (pool.value.bans.generation, pool.value.bans.banned)
    }

    /// The identity the node at `endpoint` proved in its handshake (dialling it if no
    /// connection is open): who a join address really is.
    public func identify(_ endpoint: Endpoint) -> EventLoopFuture<PeerID> {
        let pool = self.pool
        return eventLoop.flatSubmit { pool.value.identify(endpoint) }
    }

    /// Peers with an established connection in use.
    public func connectedPeers() -> EventLoopFuture<[PeerID]> {
        let pool = self.pool
        return eventLoop.submit { pool.value.connectedPeers }
    }

    /// Reply bytes queued on all connections and not yet taken by their sockets.
    func queuedReplyBytes() -> EventLoopFuture<Int> {
        let pool = self.pool
        return eventLoop.submit { pool.value.queuedReplyBytes }
    }

    /// Reply bytes each connection with `peer` holds unread, and whether it is still read.
    func replyBacklogs(of peer: PeerID) -> EventLoopFuture<[(queuedBytes: Int, isRead: Bool)]> {
        let pool = self.pool
        return eventLoop.submit { pool.value.replyBacklogs(of: peer) }
    }

    /// Applies the newest valid revocation list among `encodedLists` and closes the
    /// connections of the peers it revokes; the list applied, nil when none was newer.
    public func applyNewestRevocations(of encodedLists: [[UInt8]]) -> EventLoopFuture<RevocationList?> {
        let pool = self.pool
        return eventLoop.submit { pool.value.applyNewestRevocations(of: encodedLists) }
    }

    /// Applies `list` if it is newer than the one held; fails when it is not the run's.
    public func applyRevocations(_ list: RevocationList) -> EventLoopFuture<Bool> {
        let pool = self.pool
        return eventLoop.submit { () throws -> Bool in try pool.value.applyRevocations(list) }
    }

    /// The admission rules handshakes check now (with the newest revocation list applied).
    public func admissionRules() -> EventLoopFuture<AdmissionRules?> {
        let pool = self.pool
        return eventLoop.submit { pool.value.rules }
    }

    /// The addresses whose nodes refused this node as revoked. Any node can say so, so a
    /// caller trusts it only from an address it trusts (the run's coordinator).
    public func addressesRefusingAsRevoked() -> EventLoopFuture<Set<Endpoint>> {
        let pool = self.pool
        return eventLoop.submit { pool.value.refusingAsRevoked }
    }

    /// The last reason a peer gave for refusing this node's admission, if any did.
    public func lastRefusal() -> EventLoopFuture<AdmissionRefusal?> {
        let pool = self.pool
        return eventLoop.submit { pool.value.lastRefusal }
    }

    /// Stops accepting, closes every connection and fails every outstanding request.
    public func shutdown() -> EventLoopFuture<Void> {
        let pool = self.pool
        return eventLoop.flatSubmit { pool.value.shutdown() }
    }
}
