import CohortBase
import DHT
@testable import Node
import Testing
import Wire

/// Proofs and copies between processes on one machine, run inside this test process: both
/// sides of a proof are `SameHostPeers` here, and every copy is a real `process_vm_readv` of
/// this process's own memory. Each side stands for another process (`side(_:)`), since a side
/// refuses proofs that name its own.
@Suite struct SameHostTests {
    private let alice = PeerID(bytes: [UInt8](repeating: 0xA1, count: 32))!
    private let bob = PeerID(bytes: [UInt8](repeating: 0xB0, count: 32))!
    private let carol = PeerID(bytes: [UInt8](repeating: 0xC0, count: 32))!

    /// A side of a proof for `id` that stands for a process other than this test's, so that it
    /// accepts exhibits in this process's memory.
    private func side(_ id: PeerID) -> SameHostPeers {
        SameHostPeers(ownID: id, processID: Int32.max)
    }

    /// Runs the exchange `prober` starts with `other`, as the messages would carry it.
    private func prove(_ prober: SameHostPeers, as proberID: PeerID, to other: SameHostPeers, as otherID: PeerID) throws {
        let probe = try #require(prober.startProbe(otherID))
        let challenge = try SameHostProof.Exhibit(decoding: other.answer(probe: probe, from: proberID).encoded())
        let proof = try #require(try prober.onChallenge(challenge, from: otherID))
        try other.check(proof: SameHostProof.Exhibit(decoding: proof.encoded()), from: proberID)
        prober.onProofAccepted(from: otherID)
    }

    @Test func aFullExchangeProvesBothSides() throws {
        let left = side(alice), right = side(bob)
        try prove(left, as: alice, to: right, as: bob)
        #expect(left.processID(of: bob) == ProcessMemory.currentProcessID)
        #expect(right.processID(of: alice) == ProcessMemory.currentProcessID)
        #expect(left.startProbe(bob) == nil)
    }

    /// Both sides probe at once (each is the other's owner): whichever finishes first proves
    /// both, and the slower exchange neither fails nor demotes the peer.
    @Test func crossingProbesEndProven() throws {
        let left = side(alice), right = side(bob)
        let leftProbe = try #require(left.startProbe(bob))
        let rightProbe = try #require(right.startProbe(alice))
        let challengeToLeft = try right.answer(probe: leftProbe, from: alice)
        let challengeToRight = try left.answer(probe: rightProbe, from: bob)
        let leftProof = try #require(try left.onChallenge(challengeToLeft, from: bob))
        try right.check(proof: leftProof, from: alice)
        left.onProofAccepted(from: bob)
        #expect(try right.onChallenge(challengeToRight, from: alice) == nil)
        right.abandonProbe(alice, reason: "late")
        #expect(left.processID(of: bob) != nil)
        #expect(right.processID(of: alice) != nil)
    }

    @Test func aChallengeWithoutTheSecretFails() throws {
        let prober = side(alice)
        _ = try #require(prober.startProbe(bob))
        let decoy = ExposedBytes(count: SameHostProof.secretLength)
        let forged = SameHostProof.Exhibit(processID: ProcessMemory.currentProcessID, address: decoy.address,
                                           challenge: [UInt8](repeating: 1, count: SameHostProof.secretLength))
        #expect(throws: SameHostProofError.self) { try prober.onChallenge(forged, from: bob) }
        guard case .unavailable(let reason) = prober.status(of: bob) else {
            Issue.record("status \(String(describing: prober.status(of: bob)))")
            return
        }
        #expect(reason.contains("does not hold the secret"))
    }

    @Test func aProofPointingNowhereFailsWithTheKernelsReason() throws {
        let prober = side(alice), other = side(bob)
        let probe = try #require(prober.startProbe(bob))
        _ = try other.answer(probe: probe, from: alice)
        let nowhere = SameHostProof.Exhibit(processID: ProcessMemory.currentProcessID, address: 8, challenge: nil)
        #expect(throws: SameHostProofError.self) { try other.check(proof: nowhere, from: alice) }
        guard case .unavailable(let reason) = other.status(of: alice) else {
            Issue.record("status \(String(describing: other.status(of: alice)))")
            return
        }
        #expect(reason.contains("cannot read the memory of process"))
    }

    @Test func unaskedChallengesAndProofsFail() throws {
        let peers = side(carol)
        let exhibit = SameHostProof.Exhibit(processID: 1, address: 0, challenge: [UInt8](repeating: 0, count: SameHostProof.secretLength))
        #expect(throws: SameHostProofError.self) { try peers.onChallenge(exhibit, from: bob) }
        #expect(throws: SameHostProofError.self) { try peers.check(proof: exhibit, from: alice) }
        #expect(throws: SameHostProofError.self) { try peers.answer(probe: [1, 2, 3], from: alice) }
    }

    @Test func exhibitsRoundTripAndBadOnesAreRefused() throws {
        let challenge = SameHostProof.Exhibit(processID: 42, address: 0xDEAD_BEEF, challenge: [UInt8](repeating: 7, count: 32))
        #expect(try SameHostProof.Exhibit(decoding: challenge.encoded()) == challenge)
        let proof = SameHostProof.Exhibit(processID: 42, address: 16, challenge: nil)
        #expect(try SameHostProof.Exhibit(decoding: proof.encoded()) == proof)
        #expect(throws: WireError.truncated) { try SameHostProof.Exhibit(decoding: Array(challenge.encoded().dropLast())) }
        #expect(throws: WireError.trailingBytes) { try SameHostProof.Exhibit(decoding: proof.encoded() + [0]) }
        var badFlag = proof.encoded()
        badFlag[12] = 2
        #expect(throws: WireError.invalidValue) { try SameHostProof.Exhibit(decoding: badFlag) }
        var noProcess = proof.encoded()
        noProcess[0...3] = [0, 0, 0, 0]
        #expect(throws: WireError.invalidValue) { try SameHostProof.Exhibit(decoding: noProcess) }
    }

    /// Probers that never prove cannot make the answering side hold state without bound: past
    /// `maxAnswered` the oldest answer goes, and its proof is then refused.
    @Test func answersToProbesThatNeverProveAreBounded() throws {
        let answering = side(bob)
        let ids = (0...SameHostPeers.maxAnswered).map { PeerID(bytes: [UInt8](repeating: UInt8($0), count: 32))! }
        let probers = ids.map { side($0) }
        var proofs: [SameHostProof.Exhibit] = []
        for (id, prober) in zip(ids, probers) {
            let probe = try #require(prober.startProbe(bob))
            proofs.append(try #require(try prober.onChallenge(try answering.answer(probe: probe, from: id), from: bob)))
        }
        let oldest = PeerID(bytes: [UInt8](repeating: 0, count: 32))!
        #expect(throws: SameHostProofError.self) { try answering.check(proof: proofs[0], from: oldest) }
        let newest = PeerID(bytes: [UInt8](repeating: UInt8(SameHostPeers.maxAnswered), count: 32))!
        try answering.check(proof: proofs[SameHostPeers.maxAnswered], from: newest)
        #expect(answering.processID(of: newest) == ProcessMemory.currentProcessID)
        withExtendedLifetime(probers) {}
    }

    /// Fresh identities sending proofs that fail cannot grow the statuses without bound either:
    /// past `maxUnavailable` the oldest failure is forgotten, and that peer may be probed again.
    @Test func failedPeersRememberedAreBounded() throws {
        let answering = side(bob)
        let ids = (0...SameHostPeers.maxUnavailable).map { PeerID(bytes: [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] + [UInt8](repeating: 7, count: 30))! }
        let unsolicited = SameHostProof.Exhibit(processID: ProcessMemory.currentProcessID, address: 4096, challenge: nil)
        for id in ids {
            #expect(throws: SameHostProofError.self) { try answering.check(proof: unsolicited, from: id) }
        }
        #expect(answering.status(of: ids[0]) == nil)
        #expect(answering.startProbe(ids[0]) != nil, "a forgotten failure may be probed again")
        #expect(answering.status(of: ids[1]) == .unavailable(reason: "a proof nobody asked for"))
        #expect(answering.status(of: ids.last!) == .unavailable(reason: "a proof nobody asked for"))
    }

    /// The relay an outsider with two identities tried: B1 probes the victim and gets challenge
    /// C1, B2 probes the victim with C1 as its secret, so the victim holds C1 in its memory,
    /// and B1 sends a proof with the victim's own process id and that address. With raw secrets
    /// exhibited the victim marked B1 proven as itself and copied "chunks" out of its own memory.
    @Test func aChallengeRelayedIntoTheVictimsOwnMemoryProvesNothing() throws {
        let attacker1 = alice, attacker2 = carol
        for victim in [SameHostPeers(ownID: bob), side(bob)] {
            let challenge = try victim.answer(probe: [UInt8](repeating: 3, count: SameHostProof.secretLength), from: attacker1)
            let relayed = try victim.answer(probe: try #require(challenge.challenge), from: attacker2)
            let proof = SameHostProof.Exhibit(processID: relayed.processID, address: relayed.address, challenge: nil)
            #expect(throws: SameHostProofError.self) { try victim.check(proof: proof, from: attacker1) }
            #expect(victim.processID(of: attacker1) == nil)
        }
    }

    /// Another honest peer on the machine, made to exhibit the challenge the same way, does
    /// not stand in for the attacker either: its token names another prober.
    @Test func aChallengeRelayedIntoAThirdPeersMemoryProvesNothing() throws {
        let victim = side(bob), bystander = side(carol)
        let attacker1 = alice, attacker2 = PeerID(bytes: [UInt8](repeating: 0xD0, count: 32))!
        let challenge = try victim.answer(probe: [UInt8](repeating: 3, count: SameHostProof.secretLength), from: attacker1)
        let relayed = try bystander.answer(probe: try #require(challenge.challenge), from: attacker2)
        let proof = SameHostProof.Exhibit(processID: relayed.processID, address: relayed.address, challenge: nil)
        #expect(throws: SameHostProofError.self) { try victim.check(proof: proof, from: attacker1) }
        guard case .unavailable(let reason) = victim.status(of: attacker1) else {
            Issue.record("status \(String(describing: victim.status(of: attacker1)))")
            return
        }
        #expect(reason.contains("does not hold the secret"))
    }

    @Test func aProofNamingThisProcessIsRefused() throws {
        let prober = side(alice), victim = SameHostPeers(ownID: bob)
        let probe = try #require(prober.startProbe(bob))
        let challenge = try victim.answer(probe: probe, from: alice)
        let proof = try #require(try prober.onChallenge(challenge, from: bob))
        #expect(throws: SameHostProofError.self) { try victim.check(proof: proof, from: alice) }
        #expect(victim.status(of: alice) == .unavailable(reason: "it named this process (\(ProcessMemory.currentProcessID)) as its own"))
    }

    /// Under Yama's ptrace_scope 1 this is what lets sibling peers read each other; a kernel
    /// without Yama has nothing to allow, which is no failure either.
    @Test func allowingReadersOfThisUserSucceedsWithOrWithoutYama() {
        #expect(ProcessMemory.allowReadersOfThisUser() == nil)
    }

    @Test func aForgottenPeerIsProvenAnew() throws {
        let left = side(alice), right = side(bob)
        try prove(left, as: alice, to: right, as: bob)
        left.forget(bob)
        #expect(left.status(of: bob) == nil)
        try prove(left, as: alice, to: right, as: bob)
        #expect(left.processID(of: bob) == ProcessMemory.currentProcessID)
        let gone = try #require(throws: ProcessMemoryError.self) { try ProcessMemory.read(4, from: Int32.max, at: 4096) }
        #expect(gone.isProcessGone && !gone.isUnmappedAddress)
    }

    @Test func aLeaseHoldsForItsRoundUntilRevoked() throws {
        let lease = MemoryLease()
        let me = ProcessMemory.currentProcessID
        #expect(try !MemoryLease.holds(roundID: 9, in: me, at: lease.address))
        lease.grant(roundID: 9)
        #expect(try MemoryLease.holds(roundID: 9, in: me, at: lease.address))
        #expect(try !MemoryLease.holds(roundID: 10, in: me, at: lease.address))
        lease.revoke()
        #expect(try !MemoryLease.holds(roundID: 9, in: me, at: lease.address))
    }

    @Test func exposedBytesAreCopiedOutWhole() throws {
        let values = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let exposed = values.withUnsafeBytes { ExposedBytes(copying: $0) }
        #expect(try ProcessMemory.read(values.count, from: ProcessMemory.currentProcessID, at: exposed.address) == values)
        #expect(throws: ProcessMemoryError.self) { try ProcessMemory.read(16, from: Int32.max, at: exposed.address) }
    }
}
