import CohortBase
import DHT

/// Which peers this process has proven to run on this machine, and its half of the proofs in
/// progress (`SameHostProof`). The prober calls `startProbe`, `onChallenge` and
/// `onProofAccepted`; the other side `answer(probe:from:)` and `check(proof:from:)`. Either
/// side's last step proves both processes to each other: the prober read the other's memory in
/// `onChallenge`, and the other reads the prober's in `check`.
///
/// A proof never names this process itself: copies out of a "peer" that is this process would
/// read whatever memory of its own a peer points at.
///
/// Not thread-safe: lives on one event loop.
public final class SameHostPeers {
    public enum Status: Hashable, Sendable {
        /// Proof in progress, started by this side.
        case probing
        /// Proven: copies out of `processID`'s memory are this peer's.
        case proven(processID: Int32)
        /// The proof failed or a copy did: stay with the socket.
        case unavailable(reason: String)
    }

    private var statuses: [PeerID: Status] = [:]
    /// Prober side: the secret sent in the probe, then the exhibit of the peer's challenge.
    private var sentSecrets: [PeerID: [UInt8]] = [:]
    private var pendingProofs: [PeerID: (processID: Int32, exhibit: ExposedBytes)] = [:]
    /// Other side: the prober's secret exhibited and the challenge expected back, for at most
    /// `maxAnswered` probers (oldest first), so that peers that probe and never prove, under
    /// fresh identities in an open run, cannot make this side hold memory without bound.
    private var answered: [PeerID: (exhibit: ExposedBytes, challenge: [UInt8])] = [:]
    private var answeredOrder: [PeerID] = []
    static let maxAnswered = 64
    /// Peers marked unavailable, oldest first. At most `maxUnavailable` are remembered: a
    /// forgotten one costs a probe that fails again, while an open run's fresh identities that
    /// send failing proofs could otherwise grow `statuses` without bound.
    private var unavailableOrder: [PeerID] = []
    static let maxUnavailable = 1024
    /// This peer's id, bound into every token it exhibits or expects.
    let ownID: PeerID
    /// The process this side runs in, which no proof may name.
    let processID: Int32

    /// `processID` is this process's; tests that run both sides of a proof in one process give
    /// each side another, so that they can prove each other at all.
    public init(ownID: PeerID, processID: Int32 = ProcessMemory.currentProcessID) {
        self.ownID = ownID
        self.processID = processID
    }

    public func status(of peer: PeerID) -> Status? { statuses[peer] }

    public func processID(of peer: PeerID) -> Int32? {
        guard case .proven(let processID) = statuses[peer] else { return nil }
        return processID
    }

    /// The probe's payload, or nil when a proof with `peer` is done, running or failed.
    public func startProbe(_ peer: PeerID) -> [UInt8]? {
        guard statuses[peer] == nil else { return nil }
        let secret = SameHostProof.newSecret()
        setStatus(.probing, of: peer)
        sentSecrets[peer] = secret
        return secret
    }

    /// Exhibits the prober's secret, bound to both ids, and answers with where it lies and a challenge.
    public func answer(probe payload: [UInt8], from peer: PeerID) throws(SameHostProofError) -> SameHostProof.Exhibit {
        guard payload.count == SameHostProof.secretLength else {
            throw SameHostProofError("a probe holds \(SameHostProof.secretLength) bytes, not \(payload.count)")
        }
        let token = SameHostProof.answerToken(secret: payload, prober: peer, answerer: ownID)
        let exhibit = token.withUnsafeBytes { ExposedBytes(copying: $0) }
        let challenge = SameHostProof.newSecret()
        dropAnswer(to: peer)
        if answeredOrder.count == Self.maxAnswered { dropAnswer(to: answeredOrder[0]) }
        answered[peer] = (exhibit, challenge)
        answeredOrder.append(peer)
        return SameHostProof.Exhibit(processID: ProcessMemory.currentProcessID, address: exhibit.address, challenge: challenge)
    }

    /// Checks that the peer's process holds this side's secret, then exhibits its challenge
    /// and returns the proof to send. Throws (and marks the peer unavailable) otherwise. Nil
    /// when the peer's own probe, which ran at the same time, has proven both processes already.
    public func onChallenge(_ exhibit: SameHostProof.Exhibit, from peer: PeerID) throws(SameHostProofError) -> SameHostProof.Exhibit? {
        if case .proven = statuses[peer] {
            sentSecrets[peer] = nil
            return nil
        }
        guard statuses[peer] == .probing, let secret = sentSecrets.removeValue(forKey: peer) else {
            throw fail(peer, "a challenge nobody asked for")
        }
        guard let challenge = exhibit.challenge else { throw fail(peer, "the challenge holds no secret") }
        try expect(SameHostProof.answerToken(secret: secret, prober: ownID, answerer: peer), in: exhibit.processID,
                   at: exhibit.address, from: peer)
        let proof = SameHostProof.proofToken(challenge: challenge, prober: ownID, answerer: peer)
        let mine = proof.withUnsafeBytes { ExposedBytes(copying: $0) }
        pendingProofs[peer] = (exhibit.processID, mine)
        return SameHostProof.Exhibit(processID: ProcessMemory.currentProcessID, address: mine.address, challenge: nil)
    }

    /// Checks that the prober's process holds the challenge: the prober is proven.
    public func check(proof exhibit: SameHostProof.Exhibit, from peer: PeerID) throws(SameHostProofError) {
        guard let challenge = dropAnswer(to: peer)?.challenge else { throw fail(peer, "a proof nobody asked for") }
        try expect(SameHostProof.proofToken(challenge: challenge, prober: peer, answerer: ownID), in: exhibit.processID,
                   at: exhibit.address, from: peer)
        setStatus(.proven(processID: exhibit.processID), of: peer)
    }

    /// The other side took the proof: the peer is proven.
    public func onProofAccepted(from peer: PeerID) {
        guard let pending = pendingProofs.removeValue(forKey: peer) else { return }
        setStatus(.proven(processID: pending.processID), of: peer)
    }

    /// This side's probe got no usable answer: stay with the socket, unless the peer's own
    /// probe has proven both processes meanwhile.
    public func abandonProbe(_ peer: PeerID, reason: String) {
        guard statuses[peer] == .probing else { return }
        markUnavailable(peer, reason: reason)
    }

    /// The peer's process is gone: if the peer comes back, it is another process, which the
    /// next round's probe proves anew.
    public func forget(_ peer: PeerID) {
        sentSecrets[peer] = nil
        pendingProofs[peer] = nil
        dropAnswer(to: peer)
        setStatus(nil, of: peer)
    }

    /// A copy failed, or a proof did: stay with the socket.
    public func markUnavailable(_ peer: PeerID, reason: String) {
        sentSecrets[peer] = nil
        pendingProofs[peer] = nil
        setStatus(.unavailable(reason: reason), of: peer)
        if unavailableOrder.count > Self.maxUnavailable { setStatus(nil, of: unavailableOrder[0]) }
    }

    private func setStatus(_ status: Status?, of peer: PeerID) {
        if case .unavailable = statuses[peer] { unavailableOrder.removeAll { $0 == peer } }
        statuses[peer] = status
        if case .unavailable = status { unavailableOrder.append(peer) }
    }

    @discardableResult
    private func dropAnswer(to peer: PeerID) -> (exhibit: ExposedBytes, challenge: [UInt8])? {
        guard let answer = answered.removeValue(forKey: peer) else { return nil }
        answeredOrder.removeAll { $0 == peer }
        return answer
    }

    private func expect(_ secret: [UInt8], in processID: Int32, at address: UInt64, from peer: PeerID) throws(SameHostProofError) {
        guard processID != self.processID else { throw fail(peer, "it named this process (\(processID)) as its own") }
        let found: [UInt8]
        do {
            found = try ProcessMemory.read(secret.count, from: processID, at: address)
        } catch {
            throw fail(peer, "\(error)")
        }
        guard found == secret else { throw fail(peer, "process \(processID) does not hold the secret") }
    }

    private func fail(_ peer: PeerID, _ reason: String) -> SameHostProofError {
        markUnavailable(peer, reason: reason)
        return SameHostProofError(reason)
    }
}

/// Why a peer could not be proven to run on this machine.
public struct SameHostProofError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
