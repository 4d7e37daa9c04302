import CohortBase
import Averaging
@testable import Collaboration

/// Runs a `StateDownload` against simulated donors on virtual time. A donor answers its
/// requests one after another, like a link that sends one reply at a time, each taking its
/// `perRequest` time; a silent donor never answers.
struct DownloadSimulation {
    struct Donor {
        let id: PeerID
        /// nil: never answers.
        let perRequest: Duration?
    }

    struct Outcome {
        var completedAt: MonotonicInstant?
        var failure: String?
        /// Chunks the machine kept, by the donor that sent them.
        var chunksKept: [PeerID: Int] = [:]
        /// Chunk requests the machine sent, by donor.
        var chunksAsked: [PeerID: Int] = [:]
        /// The most chunk requests one donor had unanswered at once, counting only those the
        /// machine still waited for.
        var mostInFlight = 0
        /// Requests for a chunk asked of some donor before (reassigned or in the end game).
        var repeatedChunkRequests = 0
    }

    private struct Reply {
        let time: MonotonicInstant
        let donor: PeerID
        let chunk: Int?
    }

    let state: [UInt8]
    let donors: [Donor]
    let settings: StateDownload.Settings

    func run() -> Outcome {
        let manifest = StateManifest(step: 12, bytes: state, chunkBytes: settings.chunkBytes)
        var download = StateDownload(step: 12, stateHash: manifest.stateHash, totalBytes: state.count,
                                     donors: donors.map(\.id), settings: settings)
        var outcome = Outcome()
        var now = MonotonicInstant.zero
        var replies: [Reply] = []
        var busyUntil: [PeerID: MonotonicInstant] = [:]
        var waitingFor: [Int: Set<PeerID>] = [:]
        var wake: MonotonicInstant?
        var actions = download.start(now: now)
        while true {
            for action in actions {
                switch action {
                case .requestManifest(let donor):
                    replies += answer(donor, chunk: nil, now: now, busyUntil: &busyUntil)
                case .request(let chunk, _, let donor):
                    outcome.chunksAsked[donor, default: 0] += 1
                    if waitingFor[chunk] != nil { outcome.repeatedChunkRequests += 1 }
                    waitingFor[chunk, default: []].insert(donor)
                    let unanswered = waitingFor.values.count { $0.contains(donor) }
                    outcome.mostInFlight = max(outcome.mostInFlight, unanswered)
                    replies += answer(donor, chunk: chunk, now: now, busyUntil: &busyUntil)
                case .wake(let time): wake = time
                case .completed:
                    outcome.completedAt = now
                    precondition(download.state == state, "the simulated download completed with other bytes")
                    return outcome
                case .failed(let reason):
                    outcome.failure = reason
                    return outcome
                case .report, .progress: break
                }
            }
            let next = replies.indices.min { (replies[$0].time, $0) < (replies[$1].time, $1) }
            if let due = wake, next.map({ due <= replies[$0].time }) ?? true {
                now = due
                wake = nil
                actions = download.onDeadline(now: now)
                continue
            }
            guard let next else { preconditionFailure("the simulated download waits on nothing at \(now)") }
            let reply = replies.remove(at: next)
            now = reply.time
            guard let chunk = reply.chunk else {
                actions = download.onManifest(manifest.chunkDigests, from: reply.donor, now: now)
                continue
            }
            waitingFor[chunk]?.remove(reply.donor)
            actions = download.onChunk(chunk, bytes: state[download.byteRange(ofChunk: chunk)], from: reply.donor, now: now)
            if actions.contains(where: { if case .progress = $0 { true } else { false } }) {
                outcome.chunksKept[reply.donor, default: 0] += 1
                waitingFor[chunk] = nil
            }
        }
    }

    private func answer(_ donor: PeerID, chunk: Int?, now: MonotonicInstant, busyUntil: inout [PeerID: MonotonicInstant]) -> [Reply] {
        guard let perRequest = donors.first(where: { $0.id == donor })?.perRequest else { return [] }
        let done = max(now, busyUntil[donor] ?? now) + perRequest
        busyUntil[donor] = done
        return [Reply(time: done, donor: donor, chunk: chunk)]
    }
}
