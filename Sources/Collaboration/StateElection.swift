import CohortBase
import DHT
import Wire

/// Which announced training state a peer adopts when it catches up, joins, reloads after a
/// round or backs the run up.
///
/// Any peer can announce any step and hash and serve bytes that match that hash, so a claim
/// alone is worth nothing: a peer announcing the step after everyone else's would otherwise
/// have every peer, every joiner and the coordinator load parameters of its choosing. States
/// are therefore elected: every distinct peer votes once (its own record, under its own subkey;
/// `ballots`), only peers the caller counts as taking part vote (`winner`'s `voters`: the peers
/// with live progress records), and the state with the
/// most voters wins; among equals the newer step, then the smaller hash, so that every reader
/// picks the same. One peer can then take over only a run where no two others agree, and
/// colluders need more identities than the honest peers that take part. Announcements of
/// another state size are refused (a download of them could not be used) and reported, and so
/// are those written further in the future than clocks disagree.
public struct StateElection: Sendable {
    /// One peer's vote: its latest announcement.
    public struct Ballot: Sendable {
        public var voter: PeerID
        public var announcement: StateAnnouncement

        public init(voter: PeerID, announcement: StateAnnouncement) {
            self.voter = voter
            self.announcement = announcement
        }
    }

    /// An announcement that no honest peer of this run writes, with its writer.
    public struct Refusal: Equatable, Sendable, CustomStringConvertible {
        public var writer: PeerID
        public var reason: String
        /// Whether an honest peer never writes it (a wrong size), so that it counts towards a
        /// ban; a clock far ahead is a fault of the writer's machine, not proof of malice.
        public var isOffence: Bool

        public var description: String { "\(writer) \(reason)" }
    }

    /// The elected state and the voters that serve it.
    public struct Winner: Sendable {
        public var step: Int
        public var hash: [UInt8]
        public var stateBytes: Int
        public var voters: Int
        public var donors: [(PeerID, Endpoint)]
    }

    /// Bytes of this run's state: announcements of any other size are refused.
    public let stateBytes: Int
    /// How far ahead of the reader's clock an announcement's time may be.
    public var maxClockSkew = RunTimings.maxClockSkew

    public init(stateBytes: Int) {
        precondition(stateBytes > 0, "a run's state has bytes, got \(stateBytes)")
        self.stateBytes = stateBytes
    }

    /// The votes in `records` (read under the run's state key), one per peer, and the records
    /// refused. Records not under their writer's subkey, or that do not decode, are skipped
    /// without blame: the DHT holds what anyone stores.
    public func ballots(from records: [SignedRecord], now: WallClockInstant) -> (ballots: [Ballot], refused: [Refusal]) {
        ballots(from: OwnedRecord.decoding(records) { try StateAnnouncement(decoding: $0) }, now: now)
    }

    /// The votes among `announcements`, one per peer (its newest), and the announcements refused.
    public func ballots(from announcements: [OwnedRecord<StateAnnouncement>], now: WallClockInstant) -> (ballots: [Ballot], refused: [Refusal]) {
        var ballots: [PeerID: Ballot] = [:]
        var refused: [Refusal] = []
        for record in announcements {
            let (writer, announcement) = (record.writer, record.value)
            if announcement.stateBytes != stateBytes {
                refused.append(Refusal(writer: writer, reason: "announced a state of \(announcement.stateBytes) bytes; this run's has \(stateBytes)",
                                       isOffence: true))
            } else if announcement.writtenAt > now + maxClockSkew {
                refused.append(Refusal(writer: writer, reason: "announced a state written \((announcement.writtenAt - now).components.seconds) s in the future",
                                       isOffence: false))
            } else if ballots[writer].map({ $0.announcement.timestampMilliseconds < announcement.timestampMilliseconds }) ?? true {
                ballots[writer] = Ballot(voter: writer, announcement: announcement)
            }
        }
        return (ballots.values.sorted { $0.voter < $1.voter }, refused)
    }

    /// The state most of `ballots` vote for, counting only voters in `voters` (all when nil).
    public static func winner(of ballots: [Ballot], voters: Set<PeerID>? = nil) -> Winner? {
        let counted = ballots.filter { voters?.contains($0.voter) ?? true }
        let byState = Dictionary(grouping: counted) { StateKey(step: $0.announcement.step, hash: $0.announcement.stateHash) }
        guard let (state, group) = byState.max(by: { first, second in
            ranksBelow((Double(first.value.count), first.key.step, first.key.hash), (Double(second.value.count), second.key.step, second.key.hash))
        }) else { return nil }
        let donors = group.filter(\.announcement.servesState).map { ($0.voter, $0.announcement.endpoint) }
        return Winner(step: state.step, hash: state.hash, stateBytes: group[0].announcement.stateBytes, voters: group.count, donors: donors)
    }

    /// Whether a state with `first`'s votes, step and hash loses to one with `second`'s: fewer
    /// votes, then the older step, then the larger hash, so that every reader picks the same.
    public static func ranksBelow(_ first: (votes: Double, step: Int, hash: [UInt8]),
                                  _ second: (votes: Double, step: Int, hash: [UInt8])) -> Bool {
        if first.votes != second.votes { return first.votes < second.votes }
        if first.step != second.step { return first.step < second.step }
        return second.hash.lexicographicallyPrecedes(first.hash)
    }

    private struct StateKey: Hashable {
        let step: Int
        let hash: [UInt8]
    }
}

extension StateAnnouncement {
    /// Where the announcing peer serves its state.
    public var endpoint: Endpoint { Endpoint(host: host, port: port) }
}
