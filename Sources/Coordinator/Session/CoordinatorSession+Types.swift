import CohortBase
import Averaging
import Collaboration
import DHT
import Node
import Wire

extension CoordinatorSession {
    /// What the shell did or read, answering the directive the session waits on.
    public enum Event: Sendable {
        /// The sleep is over: the next poll.
        case woke
        /// The run's progress and state records, and the peers the transport has banned.
        case runRead(progress: [OwnedRecord<PeerProgress>], state: [OwnedRecord<StateAnnouncement>], banned: [PeerID])
        case roundReportsRead(step: Int, reports: [OwnedRecord<RoundReport>])
        case journaled
        case journalFailed(reason: String)
        /// The elected state was downloaded, saved as a checkpoint and is served as `announcement`
        /// says (its timestamp is set when it is announced).
        case checkpointSaved(StateAnnouncement)
        case checkpointFailed(reason: String)
        case checkpointAnnounced
        case checkpointAnnounceFailed(reason: String)
    }

    /// What the session asks the shell to do; only the last directive of a batch awaits an event.
    public enum Directive: Sendable, Equatable {
        /// Publish the revocation list when it changed (the shell keeps the file's state).
        case publishRevocations
        /// Publish the signed run config again, so that the record outlives any gap.
        case publishConfig
        /// Read the progress and state records; answered by `runRead`.
        case readRun
        case reportOffence(PeerID, Offence)
        /// Keep the addresses of the peers that serve states, to rejoin after a restart.
        case rememberServingPeers([Endpoint])
        case showProgress(ProgressView)
        /// Read the members' reports of the round at `step`; answered by `roundReportsRead`.
        case readRoundReports(step: Int)
        /// Append the round to the journal; answered by `journaled` or `journalFailed`.
        case journal(CoordinatorStatus.Round)
        /// Download the elected state, save it as a checkpoint and serve it; answered by
        /// `checkpointSaved` or `checkpointFailed`.
        case backUp(CheckpointSource)
        /// Store the checkpoint's announcement; answered by `checkpointAnnounced` or
        /// `checkpointAnnounceFailed`.
        case announceCheckpoint(StateAnnouncement)
        case sleep(until: MonotonicInstant)
        /// Tell the operator (the shell logs it).
        case note(Note)

        public var awaitsEvent: Bool {
            switch self {
            case .readRun, .readRoundReports, .journal, .backUp, .announceCheckpoint, .sleep: true
            case .publishRevocations, .publishConfig, .reportOffence, .rememberServingPeers, .showProgress, .note: false
            }
        }
    }

    /// What the dashboard shows of the run after a poll.
    public struct ProgressView: Sendable, Equatable {
        public var peers: [CoordinatorStatus.Peer]
        public var step: Int
        public var samplesAccumulated: Int
        public var hashMismatches: Int
        /// Banned peers' ids in hex, sorted.
        public var bannedPeers: [String]
    }

    /// The state to back up, and who serves it.
    public struct CheckpointSource: Sendable, Equatable {
        public var step: Int
        public var hash: [UInt8]
        public var stateBytes: Int
        public var donors: [VolunteerSession.StateDonor]
    }

    public enum Note: Sendable, Equatable {
        case refusedStateAnnouncement(StateElection.Refusal)
        case journalFailed(reason: String)
        case checkpointFailed(reason: String, retryInSeconds: Int)
        case checkpointAnnounceFailed(reason: String)
    }
}
