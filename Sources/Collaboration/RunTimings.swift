/// The run protocol's timings in one place: how long each record lives in the DHT, when a
/// record counts as stale, how far a writer's clock may run ahead. Every peer and the
/// coordinator read the same records, so they must agree on these (docs/protocol.md, "DHT keys").
public enum RunTimings {
    /// A progress record's lifetime; a training peer stores its record every progress interval.
    public static let progressLifetime: Duration = .seconds(60)
    /// A goodbye record's lifetime: long enough to be read once, and it counts nothing.
    public static let goodbyeLifetime: Duration = .seconds(2)
    /// Progress records older than this belong to peers that left without a goodbye.
    public static let progressStaleAfter: Duration = .seconds(20)
    /// A progress record's count is extrapolated at its throughput for at most this long.
    public static let extrapolationLimit: Duration = .seconds(5)
    /// A peer one step behind the run whose record is at most this old is about to declare (it
    /// finishes the last round or loads its result), so a leader waits for it within the gather
    /// window. A peer republishes whenever it trains or leaves a round; a stopped one drops out
    /// of the count after this long.
    public static let catchingUpWithin: Duration = .seconds(2)
    /// How far ahead of the reader's clock a record's time may be; beyond, it is ignored (it
    /// would otherwise never go stale).
    public static let maxClockSkew: Duration = .seconds(60)
    /// Declarations and plans: a group forms within seconds of them.
    public static let matchmakingLifetime: Duration = .seconds(120)
    /// Round reports: a coordinator back from a restart reads the rounds it missed from them.
    public static let roundReportLifetime: Duration = .seconds(3_600)
    /// A peer's state announcement; it announces again after every step.
    public static let stateAnnouncementLifetime: Duration = .seconds(600)
    /// The coordinator's checkpoint announcement and run config, and how often it stores them
    /// again so that they outlive any gap.
    public static let checkpointAnnouncementLifetime: Duration = .seconds(600)
    public static let runConfigLifetime: Duration = .seconds(3_600)
    public static let coordinatorRepublishInterval: Duration = .seconds(300)
}
