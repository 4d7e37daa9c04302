/// The DHT's requests and replies (Kademlia §2.3: PING, STORE, FIND_NODE, FIND_VALUE).
///
/// Requests carry the sender's own contact when it accepts connections, so the receiver can
/// add it to its routing table (Kademlia §2.2: every message updates the receiver's bucket);
/// a peer in client mode sends `nil` and is never added. The transport authenticates the
/// sender, and the shell must check that `sender.id` is the id it authenticated.
public enum DHTMessage: Hashable, Sendable {
    case ping(sender: Contact?)
    case pong
    case findNode(FindNode)
    case foundNodes([Contact])
    case findValue(FindValue)
    case value(ValueReply)
    case store(Store)
    case storeAck([StoreStatus])
    case error(ErrorReply)

    /// Kademlia FIND_NODE: the contacts the receiver knows closest to `target`.
    public struct FindNode: Hashable, Sendable {
        public var sender: Contact?
        public var target: DHTID
        public init(sender: Contact?, target: DHTID) {
            self.sender = sender
            self.target = target
        }
    }

    /// Kademlia FIND_VALUE: the receiver's records under `key` and closer contacts.
    public struct FindValue: Hashable, Sendable {
        public var sender: Contact?
        public var key: DHTID
        public init(sender: Contact?, key: DHTID) {
            self.sender = sender
            self.key = key
        }
    }

    /// Answer to `findValue`: the unexpired records held under the key (possibly none) and
    /// the receiver's closest contacts to it, so a lookup can go on either way.
    public struct ValueReply: Hashable, Sendable {
        public var records: [SignedRecord]
        public var closer: [Contact]
        public init(records: [SignedRecord], closer: [Contact]) {
            self.records = records
            self.closer = closer
        }
    }

    /// Kademlia STORE: records for the receiver to keep, answered by one status each.
    public struct Store: Hashable, Sendable {
        public var sender: Contact?
        public var records: [SignedRecord]
        public init(sender: Contact?, records: [SignedRecord]) {
            self.sender = sender
            self.records = records
        }
    }

    /// A request the receiver could not serve.
    public struct ErrorReply: Hashable, Sendable {
        public var code: UInt16
        public var message: String
        public init(code: UInt16, message: String) {
            self.code = code
            self.message = message
        }
    }

    /// The frame type of this message.
    public var type: MessageType {
        switch self {
        case .ping: .ping
        case .pong: .pong
        case .findNode: .findNode
        case .foundNodes: .foundNodes
        case .findValue: .findValue
        case .value: .value
        case .store: .store
        case .storeAck: .storeAck
        case .error: .error
        }
    }
}

/// The outcome of storing one record. An open set of codes, so newer peers can add reasons.
public struct StoreStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Kept (or already held identically).
    public static let stored = StoreStatus(rawValue: 0)
    /// The signature does not verify against the owner key.
    public static let badSignature = StoreStatus(rawValue: 1)
    /// The expiry is not in the future.
    public static let expired = StoreStatus(rawValue: 2)
    /// Subkey or value longer than allowed.
    public static let tooLarge = StoreStatus(rawValue: 3)
    /// The subkey is held by another owner's unexpired record.
    public static let notOwner = StoreStatus(rawValue: 4)
    /// The owner already stored this subkey with the same or a later expiry.
    public static let stale = StoreStatus(rawValue: 5)
    /// The receiver holds as many records as it allows.
    public static let storeFull = StoreStatus(rawValue: 6)
    /// The expiry is further away than the receiver's maximum lifetime.
    public static let expiryTooFar = StoreStatus(rawValue: 7)
    /// The record's owner is not the peer that sent the store (admitted-only nodes keep only
    /// records whose owner proved its access token to them).
    public static let notFromOwner = StoreStatus(rawValue: 8)
    /// The record's owner key is revoked in the run.
    public static let ownerRevoked = StoreStatus(rawValue: 9)
    /// The record's owner holds as many records, or bytes, at the receiver as it allows one owner.
    public static let ownerFull = StoreStatus(rawValue: 10)
    /// The receiver has banned the record's owner.
    public static let ownerBanned = StoreStatus(rawValue: 11)

    public var description: String {
        let names = ["stored", "badSignature", "expired", "tooLarge", "notOwner", "stale", "storeFull", "expiryTooFar",
                     "notFromOwner", "ownerRevoked", "ownerFull", "ownerBanned"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "status(\(rawValue))"
    }
}
