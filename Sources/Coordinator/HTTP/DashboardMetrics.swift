import Metrics
import Prometheus

/// The coordinator's Prometheus metrics: swift-metrics counters and gauges backed by a private
/// swift-prometheus registry, refreshed from a status snapshot whenever `/metrics` is scraped.
///
/// The metrics are created once, without labels (one coordinator watches one run), through an
/// explicit factory: a library never bootstraps the global `MetricsSystem`, that is the
/// executable's call. The status carries cumulative totals, while a Prometheus counter only
/// moves up, so each counter advances by the growth since the last scrape; a total that
/// shrinks (a coordinator restarted with a shorter history) resets the counter, which
/// Prometheus' `rate()` already treats as a counter reset.
actor DashboardMetrics {
    private let registry: PrometheusCollectorRegistry

    private let step: Metrics.Gauge
    private let peers: Metrics.Gauge
    private let targetBatchSize: Metrics.Gauge
    private let samplesAccumulated: Metrics.Gauge
    private let lastRoundDuration: Metrics.Gauge
    private let lastLoss: Metrics.Gauge
    private let lastSamplesPerSecond: Metrics.Gauge
    /// -1 until the first checkpoint is written.
    private let lastCheckpointStep: Metrics.Gauge
    private let uptime: Metrics.Gauge
    /// The live peers' mean utilisation and bytes per token; -1 while none reports one.
    private let utilisation: Metrics.Gauge
    private let bytesPerToken: Metrics.Gauge
    private let localSteps: Metrics.Gauge
    private let fragments: Metrics.Gauge

    private var rounds: MonotonicCounter
    private var samples: MonotonicCounter
    private var failedParts: MonotonicCounter
    private var hashMismatches: MonotonicCounter

    init() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        self.registry = registry
        func gauge(_ name: String) -> Metrics.Gauge { Metrics.Gauge(label: name, factory: factory) }
        func counter(_ name: String) -> MonotonicCounter { MonotonicCounter(Metrics.Counter(label: name, factory: factory)) }
        step = gauge("cohort_step")
        peers = gauge("cohort_peers")
        targetBatchSize = gauge("cohort_target_batch_size")
        samplesAccumulated = gauge("cohort_samples_accumulated")
        lastRoundDuration = gauge("cohort_round_duration_seconds")
        lastLoss = gauge("cohort_loss")
        lastSamplesPerSecond = gauge("cohort_samples_per_second")
        lastCheckpointStep = gauge("cohort_last_checkpoint_step")
        uptime = gauge("cohort_uptime_seconds")
        utilisation = gauge("cohort_utilisation")
        bytesPerToken = gauge("cohort_bytes_per_token")
        localSteps = gauge("cohort_local_steps")
        fragments = gauge("cohort_fragments")
        rounds = counter("cohort_rounds_total")
        samples = counter("cohort_samples_total")
        failedParts = counter("cohort_failed_parts_total")
        hashMismatches = counter("cohort_hash_mismatches_total")
    }

    /// Brings every metric up to `status` and returns the Prometheus text exposition.
    func exposition(of status: CoordinatorStatus) -> String {
        update(from: status)
        return registry.emitToString()
    }

    private func update(from status: CoordinatorStatus) {
        step.record(status.step)
        peers.record(status.peers.count)
        targetBatchSize.record(status.targetBatchSize)
        samplesAccumulated.record(status.samplesAccumulated)
        uptime.record(status.uptimeSeconds)
        lastCheckpointStep.record(status.lastCheckpointStep ?? -1)
        utilisation.record(status.utilisation ?? -1)
        let reported = status.peers.compactMap(\.bytesPerToken)
        bytesPerToken.record(reported.isEmpty ? -1 : reported.reduce(0, +) / Double(reported.count))
        localSteps.record(status.localSteps)
        fragments.record(status.fragments)
        if let round = status.latestRound {
            lastRoundDuration.record(round.durationSeconds)
            lastLoss.record(round.loss)
            lastSamplesPerSecond.record(round.samplesPerSecond)
        }
        rounds.advance(to: status.roundsTotal)
        samples.advance(to: status.samplesTotal)
        failedParts.advance(to: status.failedPartsTotal)
        hashMismatches.advance(to: status.hashMismatches)
    }
}

/// A Prometheus counter that follows a cumulative total reported from elsewhere.
private struct MonotonicCounter {
    let counter: Metrics.Counter
    private var reported = 0

    init(_ counter: Metrics.Counter) {
        self.counter = counter
    }

    mutating func advance(to total: Int) {
        if total < reported {
            counter.reset()
            reported = 0
        }
        counter.increment(by: total - reported)
        reported = total
    }
}
