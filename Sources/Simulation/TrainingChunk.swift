import CohortBase

/// Micro-batches a simulated volunteer trains in one go, answered by one `trained` event when
/// the last of them is done.
///
/// The simulator answers a `train` with many micro-batches at once to keep its events few,
/// where a real trainer answers after each one. A chunk can be cut short at the boundary of the
/// micro-batch in progress, which is where a real peer would next hear of something that
/// happened meanwhile (a background round's outcome, `PeerSession.run`).
struct TrainingChunk: Equatable, Sendable {
    let start: MonotonicInstant
    let microBatches: Int
    let samplesPerMicroBatch: Int
    /// The volunteer's compute.
    let samplesPerSecond: Double

    init(start: MonotonicInstant, microBatches: Int, samplesPerMicroBatch: Int, samplesPerSecond: Double) {
        precondition(microBatches >= 1 && samplesPerMicroBatch >= 1 && samplesPerSecond > 0,
                     "a chunk trains micro-batches at some speed: \(microBatches) × \(samplesPerMicroBatch) at \(samplesPerSecond)/s")
        self.start = start
        self.microBatches = microBatches
        self.samplesPerMicroBatch = samplesPerMicroBatch
        self.samplesPerSecond = samplesPerSecond
    }

    var samples: Int { microBatches * samplesPerMicroBatch }
    /// The compute the chunk takes, as the trainer reports it (`VolunteerSession.Event.trained`).
    var seconds: Double { Double(samples) / samplesPerSecond }
    var end: MonotonicInstant { start + .seconds(seconds) }

    /// The chunk ended with the micro-batch in progress at `time`: a trainer does not stop
    /// within a micro-batch. At least the first micro-batch, at most the whole chunk.
    func cut(at time: MonotonicInstant) -> TrainingChunk {
        // A time on a boundary ends the micro-batch that finishes there, not the next one; the
        // tolerance absorbs the rounding of the virtual clock's microseconds.
        let started = ((time - start) / .seconds(1) * samplesPerSecond / Double(samplesPerMicroBatch) - 1e-6).rounded(.up)
        let kept = Int(min(max(started, 1), Double(microBatches)))
        return TrainingChunk(start: start, microBatches: kept, samplesPerMicroBatch: samplesPerMicroBatch,
                             samplesPerSecond: samplesPerSecond)
    }
}
