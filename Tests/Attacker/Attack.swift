/// The attacks `cohort-attacker` runs, one DHT identity each (issue 11; docs/security.md).
enum Attack: String, CaseIterable, Sendable {
    /// A progress record a step ahead with a far-future timestamp, and an announcement of a
    /// state of that step that it serves: every peer that trusts it loads the attacker's bytes.
    case stateHijack = "state-hijack"
    /// A progress record at step 2³¹ − 1 with a huge sample count.
    case farStep = "far-step"
    /// A state announcement of size 0 (used to trap or end the peers that read it).
    case emptyState = "empty-state"
    /// A state announcement of 2⁴⁰ bytes (used to make the coordinator allocate it).
    case hugeState = "huge-state"
    /// A declaration, under the attacker's subkey, of a peer with id 0x00…00 that does not exist.
    case forgedDeclaration = "forged-declaration"
    /// Declares itself, the lowest id, at the honest step and never sends a plan or a chunk.
    case silentLeader = "silent-leader"
    /// Takes part in rounds as the lowest id at the honest step, declaring the largest bandwidth
    /// and sample count the wire allows, and answers members' chunks of its part with poisoned
    /// averages: ×10⁶ the true average in its first round, NaN in the later ones.
    case poisonedAverage = "poisoned-average"
    /// Opens a connection to every honest peer, asks it for its whole state again and again,
    /// and never reads a reply.
    case unreadReplies = "unread-replies"
}
