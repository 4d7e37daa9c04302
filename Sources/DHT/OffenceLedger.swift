import CohortBase

/// Offences per peer in a sliding window, and the bans they lead to, as a pure state machine:
/// time is passed in, so tests replay it exactly.
///
/// `offencesToBan` offences within `window`, or one that `bansAtOnce`, ban a peer for
/// `firstBan`; every later ban lasts twice the one before, up to `longestBan`, so a peer that
/// comes back and misbehaves again is shut out for longer each time. A peer quiet for `memory`
/// is forgotten, ban count included.
/// The shell enforces bans: it closes the peer's connections and refuses new ones, leaves it
/// out of groups and refuses its records.
public struct OffenceLedger: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Offences older than this no longer count.
        public var window: Duration = .seconds(10 * 60)
        /// Offences within the window that ban a peer.
        public var offencesToBan = 3
        /// The first ban's length; each later ban doubles it.
        public var firstBan: Duration = .seconds(10 * 60)
        public var longestBan: Duration = .seconds(24 * 3600)
        /// A peer with no offence and no ban for this long is forgotten.
        public var memory: Duration = .seconds(24 * 3600)
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
        case banned(until: MonotonicInstant, reason: String)
        /// The peer was banned already (until `until`); nothing changes.
        case alreadyBanned(until: MonotonicInstant)
    }

    private struct Standing: Sendable {
        /// Times of the offences within the window, oldest first (at most `offencesToBan`).
        var recent: [MonotonicInstant] = []
        var bans = 0
        /// In the past (`.zero` before the first ban) when the peer is not banned.
        var bannedUntil: MonotonicInstant = .zero
        var lastSeen: MonotonicInstant
    }

    public let settings: Settings
    private var standings: [PeerID: Standing] = [:]

    public init(settings: Settings = Settings()) {
        precondition(settings.offencesToBan >= 1 && settings.firstBan > .zero && settings.maxTrackedPeers >= 1,
                     "ledger settings \(settings) would never ban or never track")
        self.settings = settings
    }

    /// Peers currently tracked (for tests and metrics).
    public var trackedCount: Int { standings.count }

    public func isBanned(_ peer: PeerID, now: MonotonicInstant) -> Bool {
        (standings[peer]?.bannedUntil ?? .zero) > now
    }

    public func bannedPeers(now: MonotonicInstant) -> Set<PeerID> {
        Set(standings.compactMap { $0.value.bannedUntil > now ? $0.key : nil })
    }

    /// When the earliest current ban ends, so the shell can lift it then; nil when none.
    public func nextBanExpiry(now: MonotonicInstant) -> MonotonicInstant? {
        standings.values.lazy.map(\.bannedUntil).filter { $0 > now }.min()
    }

    /// Records `offence` by `peer` and bans it when the window holds `offencesToBan` of them.
    public mutating func onOffence(_ offence: Offence, by peer: PeerID, now: MonotonicInstant) -> Outcome {
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
        guard standing.recent.count >= settings.offencesToBan || offence.bansAtOnce else {
            standings[peer] = standing
            return .counted(offences: standing.recent.count)
        }
        let length = banLength(after: standing.bans)
        standing.bans += 1
        standing.bannedUntil = now + length
        let count = standing.recent.count == 1 ? "1 offence" : "\(standing.recent.count) offences"
        standing.recent = []
        standings[peer] = standing
        let reason = "\(count) within \(Self.minutes(settings.window)), the last \(offence); "
            + "ban \(standing.bans) for \(Self.minutes(length))"
        return .banned(until: standing.bannedUntil, reason: reason)
    }

    /// Forgets peers quiet for `memory` whose ban (if any) is over.
    public mutating func forgetQuiet(now: MonotonicInstant) {
        standings = standings.filter { $0.value.bannedUntil > now || $0.value.lastSeen + settings.memory > now }
    }

    /// firstBan × 2^bans, at most longestBan.
    private func banLength(after bans: Int) -> Duration {
        var length = min(settings.firstBan, settings.longestBan)
        for _ in 0..<bans {
            length = length > settings.longestBan / 2 ? settings.longestBan : length * 2
        }
        return length
    }

    /// Makes room for one more peer: forgets the quiet ones, then the unbanned peer seen
    /// longest ago. False when every tracked peer is banned.
    private mutating func makeRoom(now: MonotonicInstant) -> Bool {
        guard standings.count >= settings.maxTrackedPeers else { return true }
        forgetQuiet(now: now)
        guard standings.count >= settings.maxTrackedPeers else { return true }
        guard let oldest = standings.filter({ $0.value.bannedUntil <= now }).min(by: { $0.value.lastSeen < $1.value.lastSeen }) else {
            return false
        }
        standings[oldest.key] = nil
        return true
    }

    static func minutes(_ duration: Duration) -> String {
        let milliseconds = duration.wholeMilliseconds
        return milliseconds % 60_000 == 0 ? "\(milliseconds / 60_000) min" : "\(Double(milliseconds) / 1000) s"
    }
}
