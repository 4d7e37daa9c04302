import Collaboration
import Logging

extension PeerSession {
    /// Logs what the session tells the operator. The fault-injection scripts read the
    /// "averaging" and "round" lines (scripts/faults/assert.sh): keep their metadata.
    func log(_ note: VolunteerSession.Note) {
        switch note {
        case .behindTheRun(let own, let runStep):
            logger.info("behind the run", metadata: ["own.step": "\(own)", "run.step": "\(runStep)"])
        case .ignoredStateAnnouncement(let refusal):
            logger.warning("ignoring a state announcement: \(refusal)")
        case .ignoredCheckpoint(let step, let bytes, let expected):
            logger.warning("ignoring the coordinator's checkpoint of step \(step): its state has \(bytes) bytes, this model's \(expected)")
        case .goingOnFromCheckpoint(let step):
            logger.info("going on from the coordinator's checkpoint", metadata: ["step": "\(step)"])
        case .stateLoaded(let step):
            logger.info("state loaded", metadata: ["step": "\(step)"])
        case .stateDownloadFailed(let step, let reason):
            logger.warning("state download failed; trying again later", metadata: ["step": "\(step)", "reason": "\(reason)"])
        case .stateReplayFailed(let fromStep, let toStep, let reason):
            logger.warning("replaying the updates failed; downloading the state",
                           metadata: ["from.step": "\(fromStep)", "to.step": "\(toStep)", "reason": "\(reason)"])
        case .joiningLate(let fromStep, let toStep):
            logger.info("joining the run's next round while replaying the update missed",
                        metadata: ["from.step": "\(fromStep)", "to.step": "\(toStep)"])
        case .hashMismatch(let step, let voters, let mismatches):
            logger.warning("state hash disagrees with the agreed state of the step; reloading",
                           metadata: ["step": "\(step)", "voters.agreed": "\(voters)", "mismatches.total": "\(mismatches)"])
        case .onAnotherBranch(let step, let branchStep, let branchVoters, let ownVoters):
            logger.warning("more peers hold a state this peer's steps did not pass through; loading it",
                           metadata: ["step": "\(step)", "branch.step": "\(branchStep)", "voters.branch": "\(branchVoters)",
                                      "voters.own": "\(ownVoters)"])
        case .averaging(let step, let peers, let part, let elements, let bandwidth):
            // The plan's parts follow the members' announced bandwidths (`LoadBalancing`).
            logger.info("averaging", metadata: ["step": "\(step)", "peers": "\(peers)", "part": "\(part)/\(elements)",
                                                "bandwidth": "\(bandwidth)"])
        case .averaged(let round):
            logger.info("round", metadata: ["step": "\(round.step)", "peers": "\(round.peers)", "samples": "\(round.samples)",
                                             "loss": "\(String(format: "%.4f", round.loss))", "state": "\(Self.shortHex(round.stateHash))",
                                             "seconds": "\(String(format: "%.2f", round.seconds))",
                                             "allreduce.seconds": "\(String(format: "%.2f", round.allReduceSeconds))",
                                             "failed.parts": "\(round.failedParts)",
                                             "inbound": "\(round.inboundBytesPerSecond.map { String(Int($0)) } ?? "-")"])
        case .steppedAlone(let step, let samples, let reason):
            logger.info("round", metadata: ["step": "\(step)", "peers": "1", "samples": "\(samples)", "note": "\(reason)",
                                             "state": "\(Self.shortHex(session.announcedHash))"])
        case .outOfBoundAverage(let step, let owner, let count, let excluded):
            logger.warning(excluded ? "excluding an owner whose averages failed the norm check" : "skipped an average that failed the norm check",
                           metadata: ["step": "\(step)", "peer.id": "\(owner)", "count": "\(count)"])
        case .couldNotAverage(let step, let reason):
            logger.warning("could not average step \(step): \(reason)")
        case .groupNeverStepped(let step, let members):
            logger.warning("the group that left this peer out never stepped; excluding its members",
                           metadata: ["step": "\(step)", "peers": "\(members.map(\.shortDescription).joined(separator: ","))"])
        case .rejoined(let contacts):
            logger.info("rejoined the DHT", metadata: ["contacts": "\(contacts)"])
        case .isolated(let retry):
            logger.warning("no DHT contact answers; retrying in \(retry) s")
        case .left(let step):
            logger.info("left the run", metadata: ["step": "\(step)"])
        }
    }

    private static func shortHex(_ bytes: [UInt8]) -> String {
        bytes.prefix(6).map { String(format: "%02x", $0) }.joined()
    }
}
