import CohortBase
import DHT
import Logging
import NIOCore

/// The node's `OffenceLedger` on its event loop: counts offences, logs each ban in one line
/// with its reason, keeps the current bans for the connection pool and the DHT shell (with a
/// generation number that changes whenever they do), and lifts each ban when it ends.
final class BanKeeper {
    private var ledger: OffenceLedger
    private let eventLoop: EventLoop
    private let logger: Logger
    private(set) var banned: Set<PeerID> = []
    /// Changes whenever `banned` does.
    private(set) var generation = 0
    private var nextLift: Scheduled<Void>?

    init(settings: OffenceLedger.Settings, eventLoop: EventLoop, logger: Logger) {
        ledger = OffenceLedger(settings: settings)
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Milliseconds of the monotonic clock the ledger runs on.
    static func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds / 1_000_000 }

    func isBanned(_ peer: PeerID) -> Bool { banned.contains(peer) }

    /// Counts `offence`; returns true when it banned `peer` (its connections should close).
    func record(_ offence: Offence, by peer: PeerID) -> Bool {
        let now = Self.now()
        switch ledger.onOffence(offence, by: peer, now: now) {
        case .counted(let offences):
            logger.info("offence", metadata: ["peer.id": "\(peer)", "offence": "\(offence)", "count": "\(offences)"])
            return false
        case .banned(_, let reason):
            logger.warning("banned peer \(peer): \(reason)")
            refresh(now: now)
            return true
        case .alreadyBanned:
            return false
        }
    }

    /// Stops the timer that lifts bans.
    func cancel() {
        nextLift?.cancel()
        nextLift = nil
    }

    /// Recomputes the bans and schedules the next lift.
    private func refresh(now: UInt64) {
        let before = banned
        banned = ledger.bannedPeers(now: now)
        generation += 1
        for peer in before.subtracting(banned) {
            logger.info("ban lifted", metadata: ["peer.id": "\(peer)"])
        }
        ledger.forgetQuiet(now: now)
        nextLift?.cancel()
        nextLift = ledger.nextBanExpiry(now: now).map { end in
            eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(end * 1_000_000)) { [self] in
                refresh(now: max(end, Self.now()))
            }
        }
    }
}
