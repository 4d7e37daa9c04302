import CohortBase
import Wire

extension DHTNode {
    /// Joins the network through peers at `endpoints` (Kademlia §2.3): asks each for contacts
    /// near this node's id, looks up its own id, then refreshes every bucket farther than its
    /// nearest neighbour. Ends with `.completed(id, .bootstrapped)`.
    public mutating func bootstrap(from endpoints: [Endpoint], now: ClockReading) -> (id: OperationID, directives: [Directive]) {
        let operation = newOperationID(.bootstrap(.probing(outstanding: endpoints.count)))
        guard !endpoints.isEmpty else { return (operation, startSelfLookup(operation, now: now)) }
        let probe = DHTMessage.findNode(.init(sender: ownContact, target: DHTID(ownID)))
        return (operation, endpoints.map { send(probe, to: $0, expecting: nil, operation: operation, purpose: .probe(attempt: 1)) })
    }

    /// Reads the records under `key` (Kademlia §2.3 FIND_VALUE). Ends with
    /// `.completed(id, .found(records:hops:))`: the merged, unexpired, verified set.
    public mutating func get(_ key: RecordKey, now: ClockReading) -> (id: OperationID, directives: [Directive]) {
        let operation = newOperationID(.get)
        var lookup = Lookup(target: key, kind: .value(quorum: settings.valueQuorum),
                            seeds: routingTable.closest(to: key, count: settings.k), ownID: ownID,
                            k: settings.k, alpha: settings.alpha)
        lookup.addLocalRecords(store.records(under: key, now: now.wall).filter { !isOwnerBanned($0) })
        return (operation, startLookup(lookup, operation: operation, now: now))
    }

    /// Stores a signed record on the k closest peers to its key (Kademlia §2.3 STORE after a
    /// node lookup), and republishes it every `republishInterval` until it expires. Ends with
    /// `.completed(id, .stored(…))`, or `.refused(status)` when the record does not validate.
    public mutating func put(_ record: SignedRecord, now: ClockReading) -> (id: OperationID, directives: [Directive]) {
        let status = RecordStore.validate(record, now: now.wall, limits: settings.recordLimits)
        guard status == .stored else {
            let operation = nextOperationID
            nextOperationID += 1
            return (operation, [.completed(operation, .refused(status))])
        }
        published[record.key, default: [:]][record.subkey] = (record, now.monotonic)
        return startPut(record, notify: true, now: now)
    }

    mutating func startPut(_ record: SignedRecord, notify: Bool, now: ClockReading) -> (id: OperationID, directives: [Directive]) {
        let operation = newOperationID(.put(PutProgress(record: record, notify: notify)))
        let lookup = Lookup(target: record.key, kind: .nodes, seeds: routingTable.closest(to: record.key, count: settings.k),
                            ownID: ownID, k: settings.k, alpha: settings.alpha)
        return (operation, startLookup(lookup, operation: operation, now: now))
    }

    mutating func startRefresh(bucket: Int, operation: OperationID, now: ClockReading) -> [Directive] {
        let target = routingTable.randomID(inBucket: bucket, using: &generator)
        let lookup = Lookup(target: target, kind: .nodes, seeds: routingTable.closest(to: target, count: settings.k),
                            ownID: ownID, k: settings.k, alpha: settings.alpha)
        return startLookup(lookup, operation: operation, now: now)
    }

    private mutating func startSelfLookup(_ operation: OperationID, now: ClockReading) -> [Directive] {
        operations[operation] = .bootstrap(.lookingUpSelf)
        let lookup = Lookup(target: DHTID(ownID), kind: .nodes, seeds: routingTable.closest(to: DHTID(ownID), count: settings.k),
                            ownID: ownID, k: settings.k, alpha: settings.alpha)
        return startLookup(lookup, operation: operation, now: now)
    }

    private mutating func startLookup(_ lookup: Lookup, operation: OperationID, now: ClockReading) -> [Directive] {
        routingTable.touchBucket(of: lookup.target, now: now.monotonic)
        lookups[operation] = lookup
        return lookupEvent(operation, now: now) { $0.start() }
    }

    /// Applies an event to an operation's lookup and turns its directives into sends or a finish.
    mutating func lookupEvent(_ operation: OperationID?, now: ClockReading,
                              _ event: (inout Lookup) -> [Lookup.Directive]) -> [Directive] {
        guard let operation, var lookup = lookups[operation] else { return [] }
        let steps = event(&lookup)
        lookups[operation] = lookup
        var directives: [Directive] = []
        for step in steps {
            switch step {
            case .query(let contact):
                let message: DHTMessage = lookup.kind == .nodes
                    ? .findNode(.init(sender: ownContact, target: lookup.target))
                    : .findValue(.init(sender: ownContact, key: lookup.target))
                directives.append(send(message, to: contact.endpoint, expecting: contact.id, operation: operation, purpose: .lookupQuery))
            case .finished(let outcome):
                lookups[operation] = nil
                directives += lookupFinished(operation, outcome: outcome, target: lookup.target, now: now)
            }
        }
        return directives
    }

    private mutating func lookupFinished(_ operation: OperationID, outcome: Lookup.Outcome, target: DHTID, now: ClockReading) -> [Directive] {
        switch operations[operation] {
        case .get:
            operations[operation] = nil
            return [.completed(operation, .found(records: RecordStore.merge(outcome.records), hops: outcome.hops))]
        case .put(let progress):
            return storeOnClosest(operation, progress: progress, outcome: outcome, now: now)
        case .refresh:
            operations[operation] = nil
            return []
        case .bootstrap(let phase):
            return continueBootstrap(operation, after: phase, now: now)
        case nil:
            preconditionFailure("lookup \(operation) finished without an operation")
        }
    }

    /// Sends the record to the k closest found, storing it here too when this node is one of them.
    private mutating func storeOnClosest(_ operation: OperationID, progress: PutProgress,
                                         outcome: Lookup.Outcome, now: ClockReading) -> [Directive] {
        var progress = progress
        let record = progress.record
        var targets = outcome.closest
        var storedHere = false
        let ownDistance = DHTID(ownID).distance(to: record.key)
        if targets.count < settings.k || ownDistance < DHTID(targets[targets.count - 1].id).distance(to: record.key) {
            storedHere = true
            if store.store(record, now: now.wall) == .stored { progress.replicas = 1 }
            if targets.count == settings.k { targets.removeLast() }
        }
        progress.acksOutstanding = targets.count
        progress.contacted = targets.count + (storedHere ? 1 : 0)
        progress.hops = outcome.hops
        operations[operation] = .put(progress)
        let request = DHTMessage.store(.init(sender: ownContact, records: [record]))
        let directives = targets.map { send(request, to: $0.endpoint, expecting: $0.id, operation: operation, purpose: .store) }
        return directives.isEmpty ? storeAcknowledged(operation, accepted: nil) : directives
    }

    /// One STORE was answered (`accepted`), failed, or (nil) there was none to send.
    mutating func storeAcknowledged(_ operation: OperationID?, accepted: Bool?) -> [Directive] {
        guard let operation, case .put(var progress) = operations[operation] else { return [] }
        if let accepted {
            progress.acksOutstanding -= 1
            if accepted { progress.replicas += 1 }
        }
        guard progress.acksOutstanding == 0 else {
            operations[operation] = .put(progress)
            return []
        }
        operations[operation] = nil
        guard progress.notify else { return [] }
        return [.completed(operation, .stored(replicas: progress.replicas, contacted: progress.contacted, hops: progress.hops))]
    }

    /// A bootstrap probe was answered or failed; after the last, the self-lookup starts.
    mutating func probeDone(_ operation: OperationID?, now: ClockReading) -> [Directive] {
        guard let operation, case .bootstrap(.probing(let outstanding)) = operations[operation] else { return [] }
        guard outstanding <= 1 else {
            operations[operation] = .bootstrap(.probing(outstanding: outstanding - 1))
            return []
        }
        return startSelfLookup(operation, now: now)
    }

    /// After the self-lookup, refreshes the buckets farther than the nearest neighbour one by
    /// one (Kademlia §2.3), then reports the bootstrap done.
    private mutating func continueBootstrap(_ operation: OperationID, after phase: BootstrapPhase, now: ClockReading) -> [Directive] {
        var remaining: [Int] = []
        switch phase {
        case .lookingUpSelf where settings.refreshBucketsOnJoin:
            remaining = Array(routingTable.bucketsDueForRefresh(now: now.monotonic, interval: .zero).dropFirst())
        case .refreshing(let buckets):
            remaining = buckets
        case .lookingUpSelf, .probing:
            break
        }
        guard let next = remaining.popLast() else {
            operations[operation] = nil
            return [.completed(operation, .bootstrapped(contacts: routingTable.count))]
        }
        operations[operation] = .bootstrap(.refreshing(remaining: remaining))
        return startRefresh(bucket: next, operation: operation, now: now)
    }
}
