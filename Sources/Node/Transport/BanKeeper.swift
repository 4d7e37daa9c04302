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
    /// Its monotonic reading is the ledger's time.
    private let clock: any ProtocolClock

    init(settings: OffenceLedger.Settings, clock: any ProtocolClock, eventLoop: EventLoop, logger: Logger) {
        ledger = OffenceLedger(settings: settings)
        self.clock = clock
        self.eventLoop = eventLoop
        self.logger = logger
    }

    func isBanned(_ peer: PeerID) -> Bool { banned.contains(peer) }

    /// Counts `offence`; returns true when it banned `peer` (its connections should close).
    func record(_ offence: Offence, by peer: PeerID) -> Bool {
        let now = clock.now().monotonic
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
    private func refresh(now: MonotonicInstant) {
        let before = banned
        banned = ledger.bannedPeers(now: now)
        generation += 1
        for peer in before.subtracting(banned) {
            logger.info("ban lifted", metadata: ["peer.id": "\(peer)"])
        }
        ledger.forgetQuiet(now: now)
        nextLift?.cancel()
        nextLift = ledger.nextBanExpiry(now: now).map { end in
            // A delay rather than a deadline: the event loop's clock need not be `clock`.
            eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(end.nanoseconds - now.nanoseconds)) { [self] in
                refresh(now: max(end, clock.now().monotonic))
            }
        }
    }
}
