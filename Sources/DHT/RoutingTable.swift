import CohortBase
import Wire

/// Kademlia's k-buckets (Kademlia §2.2) as a plain value: 256 fixed buckets, bucket `i` holding
/// contacts at XOR distance in [2^i, 2^(i+1)) from the owner.
///
/// It never sends anything. When a full bucket meets a new contact it answers "ping this
/// stale contact" and keeps the newcomer in a replacement cache (Kademlia §4.1); the caller
/// reports whether the stale contact answered.
public struct RoutingTable: Sendable {
    /// What `observe` did with a contact.
    public enum Observation: Equatable, Sendable {
        /// The contact was new and its bucket had room.
        case added
        /// The contact was known; it is now the most recently seen of its bucket.
        case refreshed
        /// The bucket is full: ping this, its least-recently seen contact; the newcomer waits
        /// in the replacement cache (Kademlia §2.2).
        case pingStale(Contact)
        /// Nothing to do: the owner itself, or a stale ping for this bucket is already out.
        case ignored
    }

    private struct Bucket: Sendable {
        /// Least-recently seen first (Kademlia §2.2).
        var contacts: [Contact] = []
        /// Newest last; promoted when a contact fails (Kademlia §4.1).
        var replacements: [Contact] = []
        var failures: [PeerID: Int] = [:]
        var pendingStale: PeerID?
        var lastLookup: MonotonicInstant
    }

    public let ownID: PeerID
    /// Where the owner sits in the key space, which every distance is taken from.
    private let ownKey: DHTID
    /// k, contacts per bucket (20 in Kademlia §2.2).
    public let bucketSize: Int
    /// Failed requests after which a contact without replacement is dropped.
    public let maxFailures: Int
    private var buckets: [Bucket]
    /// Indices of the non-empty buckets, ascending (about log2 N of the 256).
    private var occupied: [Int] = []

    public init(ownID: PeerID, bucketSize: Int = 20, maxFailures: Int = 3, now: MonotonicInstant = .zero) {
        precondition(bucketSize > 0 && maxFailures > 0, "bucket size \(bucketSize), max failures \(maxFailures)")
        self.ownID = ownID
        self.ownKey = DHTID(ownID)
        self.bucketSize = bucketSize
        self.maxFailures = maxFailures
        self.buckets = Array(repeating: Bucket(lastLookup: now), count: 256)
    }

    /// The bucket an id belongs in, nil for the owner's own id.
    public func bucketIndex(of id: DHTID) -> Int? {
        let zeros = ownKey.distance(to: id).leadingZeroBitCount
        return zeros == 256 ? nil : 255 - zeros
    }

    /// Every contact held.
    public var contacts: [Contact] { occupied.flatMap { buckets[$0].contacts } }
    public var count: Int { occupied.reduce(0) { $0 + buckets[$1].contacts.count } }

    public func contains(_ id: PeerID) -> Bool {
        guard let index = bucketIndex(of: DHTID(id)) else { return false }
        return buckets[index].contacts.contains { $0.id == id }
    }

    private mutating func store(_ bucket: Bucket, at index: Int) {
        buckets[index] = bucket
        let position = occupied.firstIndex { $0 >= index } ?? occupied.count
        let listed = position < occupied.count && occupied[position] == index
        if bucket.contacts.isEmpty && listed {
            occupied.remove(at: position)
        } else if !bucket.contacts.isEmpty && !listed {
            occupied.insert(index, at: position)
        }
    }

    /// Notes that `contact` was heard from (Kademlia §2.2: every message updates a bucket).
    public mutating func observe(_ contact: Contact) -> Observation {
        guard let index = bucketIndex(of: DHTID(contact.id)) else { return .ignored }
        var bucket = buckets[index]
        defer { store(bucket, at: index) }
        bucket.failures[contact.id] = nil
        if let position = bucket.contacts.firstIndex(where: { $0.id == contact.id }) {
            bucket.contacts.remove(at: position)
            bucket.contacts.append(contact)
            return .refreshed
        }
        if bucket.contacts.count < bucketSize {
            bucket.contacts.append(contact)
            return .added
        }
        bucket.replacements.removeAll { $0.id == contact.id }
        bucket.replacements.append(contact)
        if bucket.replacements.count > bucketSize { bucket.replacements.removeFirst() }
        guard bucket.pendingStale == nil, let stale = bucket.contacts.first else { return .ignored }
        bucket.pendingStale = stale.id
        return .pingStale(stale)
    }

    /// The stale contact answered its ping: it stays, as most recently seen, and the newcomer
    /// stays in the replacement cache (Kademlia §2.2).
    public mutating func onStaleAnswered(_ id: PeerID) {
        guard let index = bucketIndex(of: DHTID(id)), buckets[index].pendingStale == id,
              let position = buckets[index].contacts.firstIndex(where: { $0.id == id }) else { return }
        buckets[index].pendingStale = nil
        buckets[index].failures[id] = nil
        buckets[index].contacts.append(buckets[index].contacts.remove(at: position))
    }

    /// A request to `id` failed. A stale contact under ping is replaced at once; any other is
    /// replaced when a replacement is waiting, or dropped after `maxFailures` failures
    /// (Kademlia §4.1). Returns the contact promoted from the replacement cache, if any.
    @discardableResult
    public mutating func onContactFailed(_ id: PeerID) -> Contact? {
        guard let index = bucketIndex(of: DHTID(id)) else { return nil }
        var bucket = buckets[index]
        defer { store(bucket, at: index) }
        guard let position = bucket.contacts.firstIndex(where: { $0.id == id }) else { return nil }
        let failures = bucket.failures[id, default: 0] + 1
        let wasStale = bucket.pendingStale == id
        if wasStale { bucket.pendingStale = nil }
        guard wasStale || !bucket.replacements.isEmpty || failures >= maxFailures else {
            bucket.failures[id] = failures
            return nil
        }
        bucket.contacts.remove(at: position)
        bucket.failures[id] = nil
        guard let promoted = bucket.replacements.popLast() else { return nil }
        bucket.contacts.append(promoted)
        return promoted
    }

    /// The `count` contacts closest to `target` by XOR distance, nearest first, leaving out
    /// `excluded`. Visits buckets in distance order, so it sorts little more than it returns.
    ///
    /// With D = own id XOR target, every contact in bucket j has a distance to the target whose
    /// bits above j equal D's and whose bit j is the inverse of D's. So the buckets with D's bit
    /// set come first, from high to low, then those with it clear, from low to high; the
    /// distance ranges of buckets never overlap.
    public func closest(to target: DHTID, count: Int, excluding excluded: PeerID? = nil) -> [Contact] {
        let difference = ownKey.distance(to: target)
        // Distances with the contact's place, so the sort moves no reference-counted values.
        var gathered: [(distance: DHTID, bucket: Int, slot: Int)] = []
        func gather(_ index: Int) {
            for (slot, contact) in buckets[index].contacts.enumerated() where contact.id != excluded {
                gathered.append((DHTID(contact.id).distance(to: target), index, slot))
            }
        }
        for index in occupied.reversed() where gathered.count < count && Self.bit(index, of: difference) {
            gather(index)
        }
        for index in occupied where gathered.count < count && !Self.bit(index, of: difference) {
            gather(index)
        }
        gathered.sort { $0.distance < $1.distance }
        return gathered.prefix(count).map { buckets[$0.bucket].contacts[$0.slot] }
    }

    /// Bit `index` of `id`, counting from the least significant (the bucket numbering).
    private static func bit(_ index: Int, of id: DHTID) -> Bool {
        let word: UInt64
        switch index / 64 {
        case 3: word = id.words.0
        case 2: word = id.words.1
        case 1: word = id.words.2
        default: word = id.words.3
        }
        return (word >> UInt64(index % 64)) & 1 == 1
    }

    /// Records that a lookup for an id in `target`'s bucket started at `now` (Kademlia §2.3).
    public mutating func touchBucket(of target: DHTID, now: MonotonicInstant) {
        guard let index = bucketIndex(of: target) else { return }
        buckets[index].lastLookup = now
    }

    /// Buckets due for refresh: not looked up within `interval` (Kademlia §2.3), among those
    /// farther than the owner's closest neighbour — nearer ones are empty by construction.
    public func bucketsDueForRefresh(now: MonotonicInstant, interval: Duration) -> [Int] {
        guard let nearest = occupied.first else { return [] }
        return (nearest..<256).filter { now >= buckets[$0].lastLookup + interval }
    }

    /// A random id that falls in bucket `index`, the target of that bucket's refresh lookup.
    public func randomID(inBucket index: Int, using generator: inout some RandomNumberGenerator) -> DHTID {
        precondition((0..<256).contains(index), "bucket \(index)")
        var words = [UInt64](repeating: 0, count: 4)
        let word = 3 - index / 64
        let bit = index % 64
        let below: UInt64 = bit == 0 ? 0 : (UInt64(1) << UInt64(bit)) - 1
        words[word] = (UInt64(1) << UInt64(bit)) | (generator.next() & below)
        for lower in word + 1..<4 { words[lower] = generator.next() }
        return ownKey.distance(to: DHTID(words: (words[0], words[1], words[2], words[3])))
    }
}
