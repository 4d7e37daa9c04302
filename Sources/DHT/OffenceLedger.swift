import CohortBase

/// Offences per peer in a sliding window, and the bans they lead to, as a pure state machine:
/// time is passed in (milliseconds, any monotonic clock), so tests replay it exactly.
///
/// `offencesToBan` offences within `window` ban a peer for `firstBan`; every later ban lasts
/// twice the one before, up to `longestBan`, so a peer that comes back and misbehaves again is
/// shut out for longer each time. A peer quiet for `memory` is forgotten, ban count included.
/// The shell enforces bans: it closes the peer's connections and refuses new ones, leaves it
/// out of groups and refuses its records.
public struct OffenceLedger: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Offences older than this no longer count (ms).
        public var window: UInt64 = 10 * 60_000
        /// Offences within the window that ban a peer.
        public var offencesToBan = 3
        /// The first ban's length (ms); each later ban doubles it.
        public var firstBan: UInt64 = 10 * 60_000
        public var longestBan: UInt64 = 24 * 3_600_000
        /// A peer with no offence and no ban for this long is forgotten (ms).
        public var memory: UInt64 = 24 * 3_600_000
        /// Peers tracked at most, so a stream of new identities cannot grow the ledger without
        /// bound; beyond it the peer quiet for longest is forgotten first (banned ones last).
        public var maxTrackedPeers = 10_000

        public init() {}
    }

    /// What one offence led to.
    public enum Outcome: Equatable, Sendable {
        /// Counted; the peer has this many offences in the window and is not banned.
        case counted(offences: Int)
        /// This offence banned the peer until `until`; `reason` is the log line's reason.
        case banned(until: UInt64, reason: String)
        /// The peer was banned already (until `until`); nothing changes.
        case alreadyBanned(until: UInt64)
    }

    private struct Standing: Sendable {
        /// Times of the offences within the window, oldest first (at most `offencesToBan`).
        var recent: [UInt64] = []
        var bans = 0
        var bannedUntil: UInt64 = 0
        var lastSeen: UInt64
    }

    public let settings: Settings
    private var standings: [PeerID: Standing] = [:]

    public init(settings: Settings = Settings()) {
        precondition(settings.offencesToBan >= 1 && settings.firstBan > 0 && settings.maxTrackedPeers >= 1,
                     "ledger settings \(settings) would never ban or never track")
        self.settings = settings
    }

    /// Peers currently tracked (for tests and metrics).
    public var trackedCount: Int { standings.count }

    public func isBanned(_ peer: PeerID, now: UInt64) -> Bool {
        (standings[peer]?.bannedUntil ?? 0) > now
    }

    public func bannedPeers(now: UInt64) -> Set<PeerID> {
        Set(standings.compactMap { $0.value.bannedUntil > now ? $0.key : nil })
    }

    /// When the earliest current ban ends, so the shell can lift it then; nil when none.
    public func nextBanExpiry(now: UInt64) -> UInt64? {
        standings.values.lazy.map(\.bannedUntil).filter { $0 > now }.min()
    }

    /// Records `offence` by `peer` and bans it when the window holds `offencesToBan` of them.
    public mutating func onOffence(_ offence: Offence, by peer: PeerID, now: UInt64) -> Outcome {
        if let until = standings[peer]?.bannedUntil, until > now {
            standings[peer]?.lastSeen = now
            return .alreadyBanned(until: until)
        }
        guard standings[peer] != nil || makeRoom(now: now) else {
            // Every tracked peer is banned: this one goes uncounted until a ban ends.
            return .counted(offences: 0)
        }
        var standing = standings[peer] ?? Standing(lastSeen: now)
        standing.lastSeen = now
        standing.recent.removeAll { $0 + settings.window <= now }
        standing.recent.append(now)
        guard standing.recent.count >= settings.offencesToBan else {
            standings[peer] = standing
            return .counted(offences: standing.recent.count)
        }
        let length = banLength(after: standing.bans)
        standing.bans += 1
        standing.bannedUntil = now + length
        standing.recent = []
        standings[peer] = standing
        let count = settings.offencesToBan == 1 ? "1 offence" : "\(settings.offencesToBan) offences"
        let reason = "\(count) within \(Self.minutes(settings.window)), the last \(offence); "
            + "ban \(standing.bans) for \(Self.minutes(length))"
        return .banned(until: standing.bannedUntil, reason: reason)
    }

    /// Forgets peers quiet for `memory` whose ban (if any) is over.
    public mutating func forgetQuiet(now: UInt64) {
        standings = standings.filter { $0.value.bannedUntil > now || $0.value.lastSeen + settings.memory > now }
    }

    /// firstBan × 2^bans, at most longestBan.
    private func banLength(after bans: Int) -> UInt64 {
        var length = min(settings.firstBan, settings.longestBan)
        for _ in 0..<bans {
            length = length > settings.longestBan / 2 ? settings.longestBan : 2 * length
        }
        return length
    }

    /// Makes room for one more peer: forgets the quiet ones, then the unbanned peer seen
    /// longest ago. False when every tracked peer is banned.
    private mutating func makeRoom(now: UInt64) -> Bool {
        guard standings.count >= settings.maxTrackedPeers else { return true }
        forgetQuiet(now: now)
        guard standings.count >= settings.maxTrackedPeers else { return true }
        guard let oldest = standings.filter({ $0.value.bannedUntil <= now }).min(by: { $0.value.lastSeen < $1.value.lastSeen }) else {
            return false
        }
        standings[oldest.key] = nil
        return true
    }

    static func minutes(_ milliseconds: UInt64) -> String {
        milliseconds % 60_000 == 0 ? "\(milliseconds / 60_000) min" : "\(Double(milliseconds) / 1000) s"
    }
}
