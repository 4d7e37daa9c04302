import Wire

extension DHTNode {
    /// Error codes this node puts in `error` replies.
    public enum ErrorCode {
        /// The message is a reply type, not a request.
        public static let notARequest: UInt16 = 1
    }

    /// A request `requestID` arrived from peer `from` (as authenticated by the transport).
    /// Returns the reply (always exactly one `.reply`) and, when the sender's bucket is full,
    /// a ping to its stale contact (Kademlia §2.2).
    public mutating func onRequest(_ message: DHTMessage, requestID: UInt64, from: PeerID, now: UInt64) -> [Directive] {
        let (sender, reply) = answer(message, from: from, now: now)
        var directives: [Directive] = [.reply(reply, requestID: requestID)]
        if let sender { directives += observe(sender) }
        return directives
    }

    private mutating func answer(_ message: DHTMessage, from: PeerID, now: UInt64) -> (sender: Contact?, reply: DHTMessage) {
        switch message {
        case .ping(let sender):
            return (sender, .pong)
        case .findNode(let request):
            let closest = routingTable.closest(to: request.target, count: settings.k, excluding: request.sender?.id)
            return (request.sender, .foundNodes(closest))
        case .findValue(let request):
            let closest = routingTable.closest(to: request.key, count: settings.k, excluding: request.sender?.id)
            let records = boundedReply(store.records(under: request.key, now: now))
            return (request.sender, .value(.init(records: records, closer: closest)))
        case .store(let request):
            let statuses = request.records.map { record in
                settings.storesOnlyFromOwners && record.ownerID != from ? StoreStatus.notFromOwner : store.store(record, now: now)
            }
            return (request.sender, .storeAck(statuses))
        case .pong, .foundNodes, .value, .storeAck, .error:
            return (nil, .error(.init(code: ErrorCode.notARequest, message: "\(message.type) is not a request")))
        }
    }

    /// Drops the records of these owner keys, refuses their records from now on, and ignores
    /// them in lookup replies: the run revoked them.
    public mutating func revokeOwners(_ publicKeys: some Sequence<[UInt8]>) {
        store.revoke(owners: publicKeys)
    }

    /// As many records as fit the reply budget and the per-message count limit.
    private func boundedReply(_ records: [SignedRecord]) -> [SignedRecord] {
        var budget = settings.maxReplyRecordBytes
        var kept: [SignedRecord] = []
        for record in records.prefix(WireLimits.maxRecordsPerMessage) {
            guard record.encodedLength <= budget else { break }
            budget -= record.encodedLength
            kept.append(record)
        }
        return kept
    }
}
