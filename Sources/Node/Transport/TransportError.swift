import DHT

/// Why a request over the transport failed. The DHT shell treats every case as a timeout.
public enum TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No reply within the request's deadline.
    case timedOut
    /// The connection closed (or failed to open) before the reply arrived.
    case connectionClosed
    /// The peer already has as many requests in flight from this node as allowed.
    case tooManyRequestsInFlight
    /// The connection's send buffer is full; the peer is not reading fast enough.
    case backpressure
    /// This node holds as many connections as allowed.
    case tooManyConnections
    /// The transport is shutting down or shut down.
    case shutDown
    /// This node has banned the peer (`OffenceLedger`).
    case banned

    public var description: String {
        switch self {
        case .timedOut: "request timed out"
        case .connectionClosed: "connection closed"
        case .tooManyRequestsInFlight: "too many requests in flight to this peer"
        case .backpressure: "send buffer full"
        case .tooManyConnections: "connection limit reached"
        case .shutDown: "transport shut down"
        case .banned: "peer is banned"
        }
    }
}
