import NIOConcurrencyHelpers
import NIOCore

/// The dashboard's open connections, so that a graceful shutdown can reach each of them.
///
/// Shutting down sends every connection NIO's `ChannelShouldQuiesceEvent`: the HTTP pipeline
/// handler closes an idle connection at once and a busy one right after its current response.
/// A connection that still hasn't closed after the grace period (a stuck client, a status
/// provider that never returns) is closed regardless, so shutdown never waits without bound.
final class ConnectionTracker: Sendable {
    private struct State {
        var open: [ObjectIdentifier: any Channel] = [:]
        var quiescing = false
    }

    private let state = NIOLockedValueBox(State())
    private let gracePeriod: TimeAmount

    init(gracePeriod: TimeAmount) {
        self.gracePeriod = gracePeriod
    }

    /// Starts tracking a newly accepted connection until it closes; one accepted after shutdown
    /// began is quiesced at once.
    func track(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let alreadyQuiescing = state.withLockedValue { state in
            state.open[key] = channel
            return state.quiescing
        }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.state.withLockedValue { _ = $0.open.removeValue(forKey: key) }
        }
        if alreadyQuiescing {
            quiesce(channel)
        }
    }

    /// Asks every open connection to finish its current response and close.
    func quiesceAll() {
        let channels = state.withLockedValue { state in
            state.quiescing = true
            return Array(state.open.values)
        }
        channels.forEach(quiesce)
    }

    private func quiesce(_ channel: any Channel) {
        channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        channel.eventLoop.scheduleTask(in: gracePeriod) { channel.close(promise: nil) }
    }
}
