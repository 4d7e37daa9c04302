import CohortBase
import Wire

/// A Kademlia node as a pure state machine (Kademlia §2), in the manner of SWIM.Instance in
/// swift-cluster-membership: every input is an `on…` method or a command, every output a
/// `Directive` for the shell. It reads no clock (`now` is passed in: the wall clock for record
/// expiries, the monotonic one for everything timed locally) and draws randomness from a seeded
/// generator, so tests and the simulator replay it exactly.
public struct DHTNode: Sendable {
    public let settings: Settings
    /// This node's contact, sent in requests so receivers can add it; nil in client mode.
    public let ownContact: Contact?
    public let ownID: PeerID
    public internal(set) var routingTable: RoutingTable
    public internal(set) var store: RecordStore

    var generator: SplitMix64
    var nextRequestID: UInt64 = 1
    var nextOperationID: OperationID = 1
    var pending: [UInt64: PendingRequest] = [:]
    var lookups: [OperationID: Lookup] = [:]
    var operations: [OperationID: Operation] = [:]
    /// Records this node put, republished until they expire, with when they were last sent.
    var published: [RecordKey: [[UInt8]: (record: SignedRecord, sentAt: MonotonicInstant)]] = [:]
    /// Per requesting peer, the records it may still ask this node to store.
    var storeLimiter: StoreRateLimiter
    /// Peers the shell has banned: their records are neither stored, served nor returned.
    public private(set) var bannedOwners: Set<PeerID> = []

    struct PendingRequest: Sendable {
        enum Purpose: Sendable { case probe(attempt: Int), lookupQuery, store, stalePing }
        var operation: OperationID?
        var endpoint: Endpoint
        var expected: PeerID?
        var purpose: Purpose
    }

    enum BootstrapPhase: Sendable {
        case probing(outstanding: Int)
        case lookingUpSelf
        case refreshing(remaining: [Int])
    }

    enum Operation: Sendable {
        case bootstrap(BootstrapPhase)
        case get
        case put(PutProgress)
        case refresh
    }

    /// A put between its lookup and its last STORE reply.
    struct PutProgress: Sendable {
        var record: SignedRecord
        /// False for republishing, which the caller did not ask for.
        var notify: Bool
        var acksOutstanding = 0
        var replicas = 0
        var contacted = 0
        var hops = 0
    }

    /// A node with identity `ownID`, reachable at `ownContact` (nil: client mode, never
    /// added to others' tables), created at `now`.
    public init(ownID: PeerID, ownContact: Contact?, settings: Settings = Settings(), seed: UInt64, now: MonotonicInstant) {
        precondition(ownContact == nil || ownContact?.id == ownID, "contact \(String(describing: ownContact)) is not \(ownID)")
        self.ownID = ownID
        self.ownContact = ownContact
        self.settings = settings
        self.routingTable = RoutingTable(ownID: ownID, bucketSize: settings.k, maxFailures: settings.maxFailures, now: now)
        self.store = RecordStore(limits: settings.recordLimits)
        self.storeLimiter = StoreRateLimiter(settings: settings.storeRate)
        self.generator = SplitMix64(seed: seed)
    }

    /// Requests awaiting a reply or a timeout.
    public var pendingRequestCount: Int { pending.count }

    // MARK: Events

    /// A reply to request `requestID` arrived from peer `from` (as authenticated by the transport).
    public mutating func onResponse(_ message: DHTMessage, requestID: UInt64, from: PeerID, now: ClockReading) -> [Directive] {
        guard let request = pending[requestID] else { return [] }
        if let expected = request.expected, expected != from {
            return onRequestTimeout(requestID: requestID, now: now)
        }
        pending[requestID] = nil
        var directives = observe(Contact(id: from, endpoint: request.endpoint))
        switch (request.purpose, message) {
        case (.stalePing, _):
            routingTable.onStaleAnswered(from)
        case (.probe, _):
            directives += probeDone(request.operation, now: now)
        case (.lookupQuery, .foundNodes(let contacts)):
            directives += lookupEvent(request.operation, now: now) { $0.onReply(from: from, contacts: contacts) }
        case (.lookupQuery, .value(let reply)):
            let (kept, offence) = screen(reply.records, for: request.operation.flatMap { lookups[$0] }, now: now.wall)
            if let offence { directives.append(.offence(from, offence)) }
            directives += lookupEvent(request.operation, now: now) { $0.onReply(from: from, contacts: reply.closer, found: kept) }
        case (.lookupQuery, _):
            directives += lookupEvent(request.operation, now: now) { $0.onFailure(from: from) }
        case (.store, let reply):
            let accepted: Bool = if case .storeAck(let statuses) = reply { statuses.first == .stored } else { false }
            directives += storeAcknowledged(request.operation, accepted: accepted)
        }
        return directives
    }

    /// Request `requestID` got no reply within `Settings.requestTimeout` (or its connection failed).
    public mutating func onRequestTimeout(requestID: UInt64, now: ClockReading) -> [Directive] {
        guard let request = pending.removeValue(forKey: requestID) else { return [] }
        if let expected = request.expected { routingTable.onContactFailed(expected) }
        switch request.purpose {
        case .stalePing:
            return []
        case .probe(let attempt) where attempt < settings.bootstrapAttempts:
            let probe = DHTMessage.findNode(.init(sender: ownContact, target: DHTID(ownID)))
            return [send(probe, to: request.endpoint, expecting: nil, operation: request.operation, purpose: .probe(attempt: attempt + 1))]
        case .probe:
            return probeDone(request.operation, now: now)
        case .lookupQuery:
            guard let expected = request.expected else { return [] }
            return lookupEvent(request.operation, now: now) { $0.onFailure(from: expected) }
        case .store:
            return storeAcknowledged(request.operation, accepted: false)
        }
    }

    /// Periodic upkeep: drop expired records, refresh idle buckets (Kademlia §2.3), republish
    /// this node's own records (Kademlia §2.5).
    public mutating func onTick(now: ClockReading) -> [Directive] {
        store.removeExpired(now: now.wall)
        var directives: [Directive] = []
        for bucket in routingTable.bucketsDueForRefresh(now: now.monotonic, interval: settings.refreshInterval) {
            directives += startRefresh(bucket: bucket, operation: newOperationID(.refresh), now: now)
        }
        // Sorted, so that the directives do not depend on the process's hash seed.
        for key in published.keys.sorted() {
            let subkeys = published[key].map { $0.keys.sorted { $0.lexicographicallyPrecedes($1) } } ?? []
            for subkey in subkeys {
                guard let entry = published[key]?[subkey] else { continue }
                if entry.record.expiresAt <= now.wall {
                    published[key]?[subkey] = nil
                } else if now.monotonic >= entry.sentAt + settings.republishInterval {
                    published[key]?[subkey]?.sentAt = now.monotonic
                    directives += startPut(entry.record, notify: false, now: now).directives
                }
            }
            if published[key]?.isEmpty == true { published[key] = nil }
        }
        return directives
    }

    // MARK: Helpers shared by the extensions

    /// Updates the routing table with a peer heard from; pings a stale contact when its bucket is full.
    mutating func observe(_ contact: Contact) -> [Directive] {
        guard case .pingStale(let stale) = routingTable.observe(contact) else { return [] }
        return [send(.ping(sender: ownContact), to: stale.endpoint, expecting: stale.id, operation: nil, purpose: .stalePing)]
    }

    mutating func send(_ message: DHTMessage, to endpoint: Endpoint, expecting: PeerID?,
                       operation: OperationID?, purpose: PendingRequest.Purpose) -> Directive {
        let requestID = nextRequestID
        nextRequestID += 1
        pending[requestID] = PendingRequest(operation: operation, endpoint: endpoint, expected: expecting, purpose: purpose)
        return .send(message, requestID: requestID, to: endpoint, expecting: expecting)
    }

    mutating func newOperationID(_ operation: Operation) -> OperationID {
        let id = nextOperationID
        nextOperationID += 1
        operations[id] = operation
        return id
    }

    /// The records of a `value` reply that `lookup` keeps — those it found already, and those
    /// for its key that validate and whose owner is neither banned nor revoked — and what the replier is to blame
    /// for (the first of): a record with a bad signature or under another key, which an honest
    /// holder never returns (it checked every record before storing it). Nothing when the
    /// lookup is over.
    func screen(_ records: [SignedRecord], for lookup: Lookup?, now: WallClockInstant) -> (kept: [SignedRecord], offence: Offence?) {
        guard let lookup else { return ([], nil) }
        var kept: [SignedRecord] = []
        var offence: Offence?
        for record in records {
            if lookup.hasFound(record) {
                kept.append(record)
            } else if record.key != lookup.target {
                offence = offence ?? Offence(.protocolViolation, "returned a record under a key it was not asked for")
            } else {
                switch RecordStore.validate(record, now: now, limits: settings.recordLimits) {
                case .stored where !isOwnerBanned(record) && !store.revokedOwners.contains(record.ownerPublicKey):
                    kept.append(record)
                case .badSignature: offence = offence ?? Offence(.badRecord, "returned a record with a bad signature")
                default: break
                }
            }
        }
        return (kept, offence)
    }

    func isOwnerBanned(_ record: SignedRecord) -> Bool {
        !bannedOwners.isEmpty && bannedOwners.contains(record.ownerID)
    }

    /// The shell's bans changed: from now on this node refuses, hides and drops the banned
    /// peers' records, and answers their requests with an error.
    public mutating func onBansChanged(_ banned: Set<PeerID>) {
        bannedOwners = banned
    }
}
