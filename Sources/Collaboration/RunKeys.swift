import DHT

/// The DHT keys a collaborative run lives under. Every peer writes only its own subkey (its
/// peer id), so records from different peers never overwrite each other.
public struct RunKeys: Sendable, Equatable {
    public let runName: String

    public init(runName: String) { self.runName = runName }

    /// The well-known key a joining peer reads first: the coordinator's signed run config for
    /// every run on this DHT, one subkey per run name.
    public static let runs = RecordKey(hashing: "cohort/runs")

    /// Each training peer's `PeerProgress`.
    public var progress: RecordKey { RecordKey(hashing: "cohort/\(runName)/progress") }
    /// Each peer's `StateAnnouncement`: the step its state is at and where to download it.
    public var state: RecordKey { RecordKey(hashing: "cohort/\(runName)/state") }
    /// Averaging declarations for `step` (Averaging's `Declaration`).
    public func declarations(step: Int) -> RecordKey { RecordKey(hashing: "cohort/\(runName)/step/\(step)/declare") }
    /// The leader's group plan for `step`.
    public func plan(step: Int) -> RecordKey { RecordKey(hashing: "cohort/\(runName)/step/\(step)/plan") }
    /// What each member saw of the round for `step` (`RoundReport`), read by the coordinator.
    public func round(step: Int) -> RecordKey { RecordKey(hashing: "cohort/\(runName)/step/\(step)/round") }
}
