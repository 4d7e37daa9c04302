import CohortBase

/// Where a peer listens: a host name or address literal and a TCP port.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A peer as the routing table knows it: its id and where it listens (Kademlia §2.2 triple).
public struct Contact: Hashable, Sendable, CustomStringConvertible {
    public var id: PeerID
    public var endpoint: Endpoint

    public init(id: PeerID, endpoint: Endpoint) {
        self.id = id
        self.endpoint = endpoint
    }

    public var description: String { "\(id)@\(endpoint)" }
}
