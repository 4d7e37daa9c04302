import CohortBase
import Wire

extension DHTNode {
    /// Protocol parameters, with Kademlia's defaults where the paper gives one.
    public struct Settings: Sendable, Equatable {
        /// Contacts per bucket and replicas per record (Kademlia §2.2, k = 20).
        public var k = 20
        /// Queries in flight per lookup (Kademlia §2.3, α = 3).
        public var alpha = 3
        /// Holders whose records a get merges before it stops early; a get that converges
        /// first returns what it has.
        public var valueQuorum = 3
        /// How long the shell waits for a reply before calling `onRequestTimeout`.
        public var requestTimeout: Duration = .seconds(2)
        /// A bucket not looked up for this long is refreshed (Kademlia §2.3: an hour).
        public var refreshInterval: Duration = .seconds(3600)
        /// Records this node put are stored again this often until they expire (Kademlia §2.5).
        public var republishInterval: Duration = .seconds(3600)
        /// Failed requests after which a contact without replacement leaves its bucket (Kademlia §4.1).
        public var maxFailures = 3
        /// Times a bootstrap address is asked before it counts as unreachable.
        public var bootstrapAttempts = 3
        /// After joining, refresh every bucket farther than the nearest neighbour (Kademlia §2.3).
        public var refreshBucketsOnJoin = true
        /// What the record store accepts.
        public var recordLimits = RecordStore.Limits()
        /// Keep a STORE's record only when its owner is the peer that sent it. Admitted-only
        /// nodes set this: the sender proved its access token on the connection, so every
        /// record held belongs to an admitted key (docs/protocol.md, "Admission and the DHT").
        public var storesOnlyFromOwners = false
        /// Records each peer may ask this node to store per minute.
        public var storeRate = StoreRateLimiter.Settings()
        /// Bytes of records one `value` reply carries at most, well inside a frame.
        public var maxReplyRecordBytes = Frame.defaultMaxPayloadLength / 2

        public init() {}
    }

    /// Identifies a get, put or bootstrap in the `completed` directive.
    public typealias OperationID = UInt64

    /// What the shell must do.
    public enum Directive: Equatable, Sendable {
        /// Send a request. The shell answers later with `onResponse(…, from:)` or, after
        /// `Settings.requestTimeout` without a reply, `onRequestTimeout`. When `expecting` is
        /// set, the reply must come from that peer.
        case send(DHTMessage, requestID: UInt64, to: Endpoint, expecting: PeerID?)
        /// Reply to the request that `onRequest` was handling.
        case reply(DHTMessage, requestID: UInt64)
        /// An operation started by `bootstrap`, `get` or `put` is over.
        case completed(OperationID, OperationResult)
        /// The peer did something an honest peer never does; count it towards a ban
        /// (`OffenceLedger`).
        case offence(PeerID, Offence)
    }

    /// How an operation ended.
    public enum OperationResult: Equatable, Sendable {
        /// Bootstrap is over; the routing table holds `contacts` contacts.
        case bootstrapped(contacts: Int)
        /// The merged, unexpired, verified records under the key (empty when none was found)
        /// and the lookup's hops.
        case found(records: [SignedRecord], hops: Int)
        /// The record was stored on `replicas` of the `contacted` closest peers (this node
        /// included when it is one of them).
        case stored(replicas: Int, contacted: Int, hops: Int)
        /// The record was not sent: it does not validate here.
        case refused(StoreStatus)
    }
}
