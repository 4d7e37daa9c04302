import CohortBase
import Wire

/// The records a node keeps: per key, a dictionary of (subkey, owner) slots, each written and
/// signed by its owner and dropped at its own expiry (Kademlia §2.5 lets values expire; the
/// dictionary and signatures are Cohort's, after hivemind's DHT values).
///
/// A slot belongs to its owner alone: two owners writing the same subkey hold two records. When
/// the first writer of a subkey held it, anyone could take a well-known subkey first (the run's
/// revocation list, a run's config) and the node refused the real writer; when readers kept the
/// record with the latest expiry per subkey, anyone could hide the real one behind a record
/// that expires later. Readers choose among owners themselves (by key, or by a signature inside
/// the value).
public struct RecordStore: Sendable {
    /// Bounds on what a node accepts.
    public struct Limits: Sendable, Equatable {
        /// Largest value, in bytes.
        public var maxValueBytes = WireLimits.maxValueBytes
        /// Largest subkey, in bytes.
        public var maxSubkeyBytes = WireLimits.maxSubkeyBytes
        /// Furthest expiry accepted, after now (24 h, as Kademlia §2.5's republish-by-owner
        /// period).
        public var maxLifetime: Duration = .seconds(24 * 3600)
        /// Records held in total; stores beyond it are refused with `storeFull`.
        public var maxRecords = 100_000
        /// Bytes of subkeys and values held in total (`storeFull` beyond it): without it,
        /// `maxRecords` values of `maxValueBytes` are 6.4 GB. An honest run's records are small and
        /// stay far below it, and 256 MiB is memory a volunteer can spare.
        public var maxBytes = 256 << 20
        /// Records one owner may hold here; its new subkeys beyond it are refused with
        /// `ownerFull`, so that one peer cannot fill the store for everyone. An honest peer
        /// holds a few records per step for an hour (its round reports), far fewer.
        public var maxRecordsPerOwner = 10_000
        /// Bytes of subkeys and values one owner may hold here (`ownerFull` beyond it).
        public var maxBytesPerOwner = 16 << 20

        public init() {}
    }

    /// What one owner holds.
    struct Usage: Sendable {
        var records = 0
        var bytes = 0
    }

    public let limits: Limits
    /// Per key, records by `slot(of:)`.
    private var entries: [RecordKey: [[UInt8]: SignedRecord]] = [:]
    /// Per owner public key, expired records included until `removeExpired`.
    private var usage: [[UInt8]: Usage] = [:]
    /// Records held, expired ones included until `removeExpired`.
    public private(set) var count = 0
    /// Subkey and value bytes held, expired records included until `removeExpired`.
    public private(set) var byteCount = 0
    /// Owner keys whose records are dropped and refused (revoked in the run).
    public private(set) var revokedOwners: Set<[UInt8]> = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Checks a record on its own: sizes, expiry window, then signature (the costly part last).
    public static func validate(_ record: SignedRecord, now: WallClockInstant, limits: Limits) -> StoreStatus {
        if record.value.count > limits.maxValueBytes || record.subkey.count > limits.maxSubkeyBytes {
            return .tooLarge
        }
        if record.expiresAt <= now { return .expired }
        if record.expiresAt - now > limits.maxLifetime { return .expiryTooFar }
        return record.hasValidSignature ? .stored : .badSignature
    }

    /// Stores `record` unless it is invalid, it is not newer than what its owner stored under
    /// the subkey before, the store is full, or its owner has used up its share. Storing an
    /// identical record again answers `.stored` and changes nothing.
    public mutating func store(_ record: SignedRecord, now: WallClockInstant) -> StoreStatus {
        if revokedOwners.contains(record.ownerPublicKey) { return .ownerRevoked }
        let slot = Self.slot(of: record)
        let held = entries[record.key]?[slot]
        let existing = held.flatMap { $0.expiresAt > now ? $0 : nil }
        if existing == record { return .stored }
        let status = Self.validate(record, now: now, limits: limits)
        guard status == .stored else { return status }
        if let existing {
            guard record.expiry > existing.expiry else { return .stale }
        } else if held == nil {
            guard count < limits.maxRecords else { return .storeFull }
        }
        guard byteCount - (held.map(Self.size(of:)) ?? 0) + Self.size(of: record) <= limits.maxBytes else { return .storeFull }
        var owner = usage[record.ownerPublicKey] ?? Usage()
        if let held {
            owner.records -= 1
            owner.bytes -= Self.size(of: held)
        }
        guard owner.records < limits.maxRecordsPerOwner, owner.bytes + Self.size(of: record) <= limits.maxBytesPerOwner else {
            return .ownerFull
        }
        if let held {
            release(held)
        } else {
            count += 1
        }
        usage[record.ownerPublicKey, default: Usage()].records += 1
        usage[record.ownerPublicKey, default: Usage()].bytes += Self.size(of: record)
        byteCount += Self.size(of: record)
        entries[record.key, default: [:]][slot] = record
        return .stored
    }

    /// Records and bytes `owner` (a raw public key) holds here, expired ones included until
    /// `removeExpired`.
    public func usage(of owner: [UInt8]) -> (records: Int, bytes: Int) {
        let held = usage[owner] ?? Usage()
        return (held.records, held.bytes)
    }

    /// What a record counts against its owner's share and `maxBytes`: its subkey and value bytes.
    static func size(of record: SignedRecord) -> Int {
        record.subkey.count + record.value.count
    }

    private mutating func release(_ record: SignedRecord) {
        let key = record.ownerPublicKey
        usage[key]?.records -= 1
        usage[key]?.bytes -= Self.size(of: record)
        byteCount -= Self.size(of: record)
        if usage[key]?.records == 0 { usage[key] = nil }
    }

    /// The unexpired records under `key`, ordered by subkey, then owner.
    public func records(under key: RecordKey, now: WallClockInstant) -> [SignedRecord] {
        guard let slots = entries[key] else { return [] }
        return slots.filter { $0.value.expiresAt > now }.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
    }

    /// Where a record lives under its key: its subkey, then its owner's key (32 bytes, so the
    /// two parts cannot run into each other).
    static func slot(of record: SignedRecord) -> [UInt8] {
        record.subkey + record.ownerPublicKey
    }

    /// Keys that hold at least one record.
    public var keys: [RecordKey] { Array(entries.keys) }

    /// Drops every record of these owners and refuses their records from now on.
    public mutating func revoke(owners: some Sequence<[UInt8]>) {
        revokedOwners.formUnion(owners)
        for (key, subkeys) in entries {
            let kept = subkeys.filter { !revokedOwners.contains($0.value.ownerPublicKey) }
            guard kept.count < subkeys.count else { continue }
            for record in subkeys.values where revokedOwners.contains(record.ownerPublicKey) {
                release(record)
            }
            count -= subkeys.count - kept.count
            entries[key] = kept.isEmpty ? nil : kept
        }
    }

    /// Drops every record whose expiry has passed.
    public mutating func removeExpired(now: WallClockInstant) {
        for (key, subkeys) in entries {
            let alive = subkeys.filter { $0.value.expiresAt > now }
            guard alive.count < subkeys.count else { continue }
            for record in subkeys.values where record.expiresAt <= now {
                release(record)
            }
            count -= subkeys.count - alive.count
            entries[key] = alive.isEmpty ? nil : alive
        }
    }

    /// Merges records for one key gathered from several holders: per (subkey, owner) the one
    /// with the latest expiry (ties broken by signature bytes so every reader picks the same).
    /// Another owner's record never hides one: readers see every owner's.
    public static func merge(_ records: [SignedRecord]) -> [SignedRecord] {
        var bySlot: [[UInt8]: SignedRecord] = [:]
        for record in records {
            let slot = slot(of: record)
            if let held = bySlot[slot] {
                let newer = record.expiry > held.expiry
                    || (record.expiry == held.expiry && record.signature.lexicographicallyPrecedes(held.signature))
                if !newer { continue }
            }
            bySlot[slot] = record
        }
        return bySlot.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.value)
    }
}
