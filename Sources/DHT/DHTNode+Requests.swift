import CohortBase
import Wire

extension DHTNode {
    /// Error codes this node puts in `error` replies.
    public enum ErrorCode {
        /// The message is a reply type, not a request.
        public static let notARequest: UInt16 = 1
        /// The peer asked to store more records than its rate allows (`Settings.storeRate`).
        public static let rateLimited: UInt16 = 5
        /// The peer is banned here.
        public static let banned: UInt16 = 6
    }

    /// A request `requestID` arrived from the authenticated peer `from`. Returns the reply
    /// (always exactly one `.reply`), an `.offence` when the request is abusive, and, when the
    /// sender's bucket is full, a ping to its stale contact (Kademlia §2.2).
    public mutating func onRequest(_ message: DHTMessage, requestID: UInt64, from peer: PeerID, now: ClockReading) -> [Directive] {
        guard !bannedOwners.contains(peer) else {
            return [.reply(.error(.init(code: ErrorCode.banned, message: "this node has banned you")), requestID: requestID)]
        }
        let (sender, reply, offence) = answer(message, from: peer, now: now)
        var directives: [Directive] = [.reply(reply, requestID: requestID)]
        if let offence { directives.append(.offence(peer, offence)) }
        if let sender { directives += observe(sender) }
        return directives
    }

    /// Stores what the peer's rate allows, refusing banned owners' records; a record with a
    /// bad signature is an offence (the writer checked it before sending), the other refusals
    /// are not (clock skew, races between writers, this node's own limits).
    private mutating func answerStore(_ request: DHTMessage.Store, from peer: PeerID, now: ClockReading)
        -> (sender: Contact?, reply: DHTMessage, offence: Offence?) {
        guard storeLimiter.admit(request.records.count, from: peer, now: now.monotonic) else {
            let limit = "more than \(settings.storeRate.recordsPerMinute) records per minute"
            return (nil, .error(.init(code: ErrorCode.rateLimited, message: "slow down: \(limit)")),
                    Offence(.flood, "asked to store \(limit)"))
        }
        let statuses = request.records.map { record -> StoreStatus in
            if settings.storesOnlyFromOwners && record.ownerID != peer { return .notFromOwner }
            return isOwnerBanned(record) ? .ownerBanned : store.store(record, now: now.wall)
        }
        let forged = statuses.filter { $0 == .badSignature }.count
        let offence = forged == 0 ? nil : Offence(.badRecord, "asked to store \(forged) record(s) with a bad signature")
        return (request.sender, .storeAck(statuses), offence)
    }

    private mutating func answer(_ message: DHTMessage, from peer: PeerID, now: ClockReading)
        -> (sender: Contact?, reply: DHTMessage, offence: Offence?) {
        switch message {
        case .ping(let sender):
            return (sender, .pong, nil)
        case .findNode(let request):
            let closest = routingTable.closest(to: request.target, count: settings.k, excluding: request.sender?.id)
            return (request.sender, .foundNodes(closest), nil)
        case .findValue(let request):
            let closest = routingTable.closest(to: request.key, count: settings.k, excluding: request.sender?.id)
            let records = boundedReply(store.records(under: request.key, now: now.wall).filter { !isOwnerBanned($0) })
            return (request.sender, .value(.init(records: records, closer: closest)), nil)
        case .store(let request):
            return answerStore(request, from: peer, now: now)
        case .pong, .foundNodes, .value, .storeAck, .error:
            return (nil, .error(.init(code: ErrorCode.notARequest, message: "\(message.type) is not a request")),
                    Offence(.protocolViolation, "sent a \(message.type) as a request"))
        }
    }

    /// Drops the records of these owner keys, refuses their records from now on, and ignores
    /// them in lookup replies: the run revoked them.
    public mutating func revokeOwners(_ publicKeys: some Sequence<[UInt8]>) {
        store.revoke(owners: publicKeys)
    }

    /// As many records as fit the reply budget and the per-message count limit, taken from the
    /// owners in turn (each owner's first record, then each one's second, …), and skipping any
    /// that does not fit rather than stopping there. Taken in key order, one owner holding many
    /// large records under the lowest subkeys filled every reply, and every other owner's record
    /// under the key (progress, plans, the run config) went unseen.
    func boundedReply(_ records: [SignedRecord]) -> [SignedRecord] {
        var byOwner: [[UInt8]: [SignedRecord]] = [:]
        var owners: [[UInt8]] = []
        for record in records {
            if byOwner[record.ownerPublicKey] == nil { owners.append(record.ownerPublicKey) }
            byOwner[record.ownerPublicKey, default: []].append(record)
        }
        var budget = settings.maxReplyRecordBytes
        var kept: [SignedRecord] = []
        var turn = 0
        while kept.count < WireLimits.maxRecordsPerMessage {
            let inTurn = owners.compactMap { byOwner[$0]!.count > turn ? byOwner[$0]![turn] : nil }
            guard !inTurn.isEmpty else { break }
            for record in inTurn where kept.count < WireLimits.maxRecordsPerMessage && record.encodedLength <= budget {
                budget -= record.encodedLength
                kept.append(record)
            }
            turn += 1
        }
        return kept
    }
}
