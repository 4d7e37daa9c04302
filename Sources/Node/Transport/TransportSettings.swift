import DHT
import NIOCore
import Wire

/// Limits and timeouts of the transport, with defaults for a DHT node
/// (docs/protocol.md, "Limits and connection rules").
public struct TransportSettings: Sendable {
    /// Where to listen; port 0 lets the OS choose.
    public var listen = Endpoint(host: "127.0.0.1", port: 0)
    /// The address others should dial, when it differs from the bound one (e.g. when listening on 0.0.0.0).
    public var advertisedHost: String?
    /// The port other peers should dial when a NAT forwards another port than the bound one.
    public var advertisedPort: UInt16?
    /// A handshake not finished by then closes the connection.
    public var handshakeTimeout = TimeAmount.seconds(5)
    /// Time allowed to open a TCP connection.
    public var connectTimeout = TimeAmount.seconds(3)
    /// Open connections, inbound and outbound together; further ones are refused.
    public var maxConnections = 512
    /// Of `maxConnections`, how many only this node's own dials may use (at most half):
    /// inbound connections are refused once they hold the rest, so that peers dialling in
    /// cannot stop this node from reaching the peers it needs.
    public var connectionsReservedForDials = 64

    /// Accepted connections this node keeps open at most.
    var maxInboundConnections: Int { maxConnections - min(connectionsReservedForDials, maxConnections / 2) }
    /// Accepted connections from one IP address that have not finished their handshake;
    /// further ones are closed at once, so that one host cannot fill `maxConnections` with
    /// connections that never authenticate. Handshakes take milliseconds, so peers sharing an
    /// address (behind one NAT, or on one machine) stay far below it.
    public var maxHandshakingConnectionsPerAddress = 16
    /// Connections one peer may hold with this node at once. It needs one (two for a moment
    /// after a simultaneous dial); beyond this, a new connection is closed as soon as the
    /// handshake proves whose it is.
    public var maxConnectionsPerPeer = 4
    /// Requests this node has outstanding on one connection; more fail at once.
    public var maxOutboundRequestsPerPeer = 64
    /// Requests from one peer served at a time; beyond it the connection stops being read
    /// (TCP backpressure) and requests already read are answered with a "busy" error.
    public var maxInboundRequestsPerPeer = 64
    /// Payload bytes of one peer's requests being served at once (an owner holds all-reduce
    /// chunks until the chunk is complete). Beyond it the connection stops being read and
    /// requests already read are answered "busy", as for the count above; a single request is
    /// always served, so every frame within `maxMessageBytes` gets through.
    public var maxInboundRequestBytesPerPeer = 64 << 20
    /// Reply bytes queued on one connection: written but not yet taken by the socket, because
    /// the peer does not read them. At the bound, further requests are answered "busy"; a
    /// little past it (the room for those answers) the connection stops being read until the
    /// peer reads, and requests already read go unanswered. A reply is produced before it is measured, so the queue can pass the bound
    /// by the replies of requests already being served; twice the largest frame lets one
    /// full-size reply wait while the next is written.
    public var maxQueuedReplyBytesPerPeer = 2 * Frame.defaultMaxPayloadLength
    /// Reply bytes queued on all connections together. Past it, the connections holding the
    /// most are closed until the rest is within it, so peers that do not read (one attacker's
    /// many identities) cannot together grow the node's memory by their count times the bound
    /// above. Four connections' worth: an honest joiner downloading a state has two 1 MiB
    /// chunks in flight per donor, so this leaves room for dozens of them at once.
    public var maxQueuedReplyBytes = 4 * (2 * Frame.defaultMaxPayloadLength)
    /// Largest frame payload accepted from a peer; a larger one closes its connection.
    public var maxMessageBytes = Frame.defaultMaxPayloadLength
    /// Send-buffer watermarks: above `high`, new requests on the connection fail with
    /// `TransportError.backpressure` until it drains below `low`.
    public var sendBufferLowWatermark = 256 * 1024
    public var sendBufferHighWatermark = 4 * 1024 * 1024
    /// An established connection with nothing in flight and no frame either way for this long
    /// is closed; either side dials again when it needs to.
    public var idleTimeout = TimeAmount.minutes(5)
    /// A connection that lost a simultaneous-dial tie is closed after this grace period once idle.
    public var duplicateGracePeriod = TimeAmount.milliseconds(500)
    /// Who may connect and the token this node presents; open by default.
    public var admission = AdmissionPolicy.open
    /// How offences add up to bans (`OffenceLedger`); a banned peer's connections are closed
    /// and new ones refused.
    public var bans = OffenceLedger.Settings()
    /// Injected delay and loss for tests; off by default.
    public var faults = FaultInjection()

    public init() {}
}
