import CohortBase
import Wire

/// Kademlia's iterative node lookup (Kademlia §2.3) as a state machine: it asks for no
/// sockets, only answers each event with what to query next or that it is done.
///
/// Up to α queries are in flight; each goes to the closest contact not yet asked among the k
/// closest still alive. The lookup converges when the k closest known contacts have all
/// answered (or none is left to ask). A value lookup (FIND_VALUE) also stops once `quorum`
/// holders have returned records under the key.
public struct Lookup: Sendable {
    /// What the lookup is after.
    public enum Kind: Equatable, Sendable {
        /// The k closest contacts to the target (FIND_NODE).
        case nodes
        /// The records under the target key (FIND_VALUE), stopping after `quorum` holders.
        case value(quorum: Int)
    }

    /// What the caller must do next.
    public enum Directive: Equatable, Sendable {
        /// Send FIND_NODE or FIND_VALUE for the target to this contact, then report back with
        /// `onReply` or `onFailure`.
        case query(Contact)
        /// The lookup is over.
        case finished(Outcome)
    }

    /// How a lookup ended.
    public struct Outcome: Equatable, Sendable {
        /// The k closest contacts that answered, nearest first.
        public var closest: [Contact]
        /// Records returned by holders, unmerged (value lookups only).
        public var records: [SignedRecord]
        /// Holders that returned at least one record.
        public var holders: Int
        /// Rounds of the lookup: the depth of the answer that completed it (a seed is depth 1,
        /// a contact learned from a depth-d answer is depth d+1).
        public var hops: Int
        /// Queries sent in all.
        public var queried: Int
    }

    private enum State: Equatable, Sendable { case fresh, inFlight, answered, failed }

    private struct Candidate: Sendable {
        var contact: Contact
        var distance: DHTID
        var state: State
        var depth: Int
    }

    public let target: DHTID
    public let kind: Kind
    private let ownID: PeerID
    private let k: Int
    private let alpha: Int
    private var candidates: [Candidate] = []
    private var known: Set<PeerID> = []
    private var records: [SignedRecord] = []
    private var holders = 0
    private var holderDepth = 0
    private var queried = 0
    private var inFlight = 0
    private var isFinished = false

    public init(target: DHTID, kind: Kind, seeds: [Contact], ownID: PeerID, k: Int = 20, alpha: Int = 3) {
        precondition(k > 0 && alpha > 0, "k \(k), alpha \(alpha)")
        self.target = target
        self.kind = kind
        self.ownID = ownID
        self.k = k
        self.alpha = alpha
        learn(seeds, depth: 1)
    }

    /// Records the caller already holds itself count as one holder at depth 0.
    public mutating func addLocalRecords(_ local: [SignedRecord]) {
        guard !local.isEmpty else { return }
        records += local
        holders += 1
    }

    /// Whether a holder already returned exactly this record (so it need not be verified again).
    public func hasFound(_ record: SignedRecord) -> Bool { records.contains(record) }

    /// The first queries.
    public mutating func start() -> [Directive] { advance() }

    /// `from` answered with `contacts` closer to the target and, for value lookups, `found`.
    public mutating func onReply(from id: PeerID, contacts: [Contact], found: [SignedRecord] = []) -> [Directive] {
        guard !isFinished, let index = candidates.firstIndex(where: { $0.contact.id == id }),
              candidates[index].state == .inFlight else { return [] }
        candidates[index].state = .answered
        inFlight -= 1
        let depth = candidates[index].depth
        if !found.isEmpty {
            records += found
            holders += 1
            holderDepth = max(holderDepth, depth)
        }
        learn(contacts, depth: depth + 1)
        return advance()
    }

    /// The query to `id` timed out or failed; the contact is skipped.
    public mutating func onFailure(from id: PeerID) -> [Directive] {
        guard !isFinished, let index = candidates.firstIndex(where: { $0.contact.id == id }),
              candidates[index].state == .inFlight else { return [] }
        candidates[index].state = .failed
        inFlight -= 1
        return advance()
    }

    private mutating func learn(_ contacts: [Contact], depth: Int) {
        for contact in contacts where contact.id != ownID && !known.contains(contact.id) {
            known.insert(contact.id)
            let candidate = Candidate(contact: contact, distance: DHTID(contact.id).distance(to: target), state: .fresh, depth: depth)
            let position = candidates.partitioningIndex { $0.distance > candidate.distance }
            candidates.insert(candidate, at: position)
        }
    }

    private mutating func advance() -> [Directive] {
        guard !isFinished else { return [] }
        if case .value(let quorum) = kind, holders >= quorum { return [finish()] }
        var choices: [Int] = []
        var alive = 0
        var allAnswered = true
        for index in candidates.indices where candidates[index].state != .failed {
            alive += 1
            switch candidates[index].state {
            case .inFlight: allAnswered = false
            case .fresh: choices.append(index); allAnswered = false
            default: break
            }
            if alive == k { break }
        }
        if allAnswered || (inFlight == 0 && choices.isEmpty) { return [finish()] }
        var directives: [Directive] = []
        for index in choices.prefix(max(0, alpha - inFlight)) {
            candidates[index].state = .inFlight
            inFlight += 1
            queried += 1
            directives.append(.query(candidates[index].contact))
        }
        return directives
    }

    private mutating func finish() -> Directive {
        isFinished = true
        let answered = candidates.filter { $0.state == .answered }.prefix(k)
        let hops: Int
        if case .value = kind, holders > 0 {
            hops = holderDepth
        } else {
            hops = answered.map(\.depth).max() ?? 0
        }
        return .finished(Outcome(closest: answered.map(\.contact), records: records, holders: holders,
                                 hops: hops, queried: queried))
    }
}

extension Array {
    /// The first index whose element satisfies `belongsAfter`, for a predicate that is false
    /// then true along the array (binary search).
    fileprivate func partitioningIndex(where belongsAfter: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if belongsAfter(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
