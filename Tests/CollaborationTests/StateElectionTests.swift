import CohortBase
import DHT
import Testing
import Wire
@testable import Collaboration

/// Which announced state peers adopt (`StateElection`), with hostile announcements among them.
@Suite struct StateElectionTests {
    static let stateBytes = 1_000
    static let now: UInt64 = 1_700_000_000_000
    static let key = RunKeys(runName: "run").state

    static func identities(_ count: Int, seed: UInt64 = 1) -> [PeerIdentity] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in PeerIdentity(using: &generator) }
    }

    static func hash(_ byte: UInt8) -> [UInt8] { [UInt8](repeating: byte, count: 32) }

    static func announcement(step: Int, hash: [UInt8], bytes: Int = stateBytes, time: UInt64 = now, port: UInt16 = 7000) -> StateAnnouncement {
        StateAnnouncement(step: step, stateHash: hash, stateBytes: bytes, host: "127.0.0.1", port: port, timestampMilliseconds: time)
    }

    static func record(_ identity: PeerIdentity, _ announcement: StateAnnouncement, subkey: [UInt8]? = nil) -> SignedRecord {
        identity.signRecord(key: key, subkey: subkey ?? identity.peerID.bytes, value: announcement.encoded, expiresAt: WallClockInstant(millisecondsSinceEpoch: now) + .seconds(600))
    }

    static func elect(_ records: [SignedRecord], voters: Set<PeerID>? = nil) -> (StateElection.Winner?, [StateElection.Refusal]) {
        let (ballots, refused) = StateElection(stateBytes: stateBytes).ballots(from: records, now: WallClockInstant(millisecondsSinceEpoch: now))
        return (StateElection.winner(of: ballots, voters: voters), refused)
    }

    @Test func onePeerAnnouncingTheNextStepDoesNotOutvoteTwoThatAgree() {
        let peers = Self.identities(3)
        let honest = Self.announcement(step: 40, hash: Self.hash(1))
        let (winner, refused) = Self.elect([
            Self.record(peers[0], honest), Self.record(peers[1], honest),
            Self.record(peers[2], Self.announcement(step: 41, hash: Self.hash(9), time: Self.now + 30_000)),
        ])
        #expect(winner?.step == 40 && winner?.hash == Self.hash(1) && winner?.voters == 2)
        #expect(Set(winner?.donors.map(\.0) ?? []) == [peers[0].peerID, peers[1].peerID])
        #expect(refused.isEmpty)
    }

    @Test func recordsUnderAnotherPeersSubkeyAreNoVotes() {
        let peers = Self.identities(2)
        let honest = Self.announcement(step: 40, hash: Self.hash(1))
        let forged = Self.announcement(step: 41, hash: Self.hash(9))
        let records = [Self.record(peers[0], honest)]
            + (0..<5).map { Self.record(peers[1], forged, subkey: [UInt8](repeating: UInt8($0), count: 32)) }
        let (winner, _) = Self.elect(records)
        #expect(winner?.hash == Self.hash(1))
    }

    @Test func aStateOfAnotherSizeOrFromTheFutureIsRefusedAndReported() {
        let peers = Self.identities(3)
        let (winner, refused) = Self.elect([
            Self.record(peers[0], Self.announcement(step: 40, hash: Self.hash(1))),
            Self.record(peers[1], Self.announcement(step: 99, hash: Self.hash(2), bytes: 0)),
            Self.record(peers[2], Self.announcement(step: 99, hash: Self.hash(3), time: Self.now + 3_600_000)),
        ])
        #expect(winner?.step == 40)
        #expect(refused.map(\.writer) == [peers[1].peerID, peers[2].peerID])
        #expect(refused[0].reason == "announced a state of 0 bytes; this run's has 1000")
        #expect(refused[1].reason == "announced a state written 3600 s in the future")
    }

    @Test func aStateWrittenAtTheEndOfU64IsRefusedAsFromTheFuture() {
        let peers = Self.identities(1)
        let (winner, refused) = Self.elect([Self.record(peers[0], Self.announcement(step: 1, hash: Self.hash(1), time: .max))])
        #expect(winner == nil)
        #expect(refused.map(\.isOffence) == [false])
    }

    @Test func onlyTheGivenVotersCount() {
        let peers = Self.identities(3)
        let members = Self.announcement(step: 40, hash: Self.hash(5))
        let outsider = Self.announcement(step: 40, hash: Self.hash(1))
        let records = [Self.record(peers[0], members), Self.record(peers[1], outsider), Self.record(peers[2], outsider)]
        #expect(Self.elect(records).0?.hash == Self.hash(1))
        #expect(Self.elect(records, voters: [peers[0].peerID]).0?.hash == Self.hash(5))
    }

    @Test func aTieGoesToTheNewerStepThenTheSmallerHashWhoeverReads() {
        let peers = Self.identities(3)
        let newer = [Self.record(peers[0], Self.announcement(step: 40, hash: Self.hash(1))),
                     Self.record(peers[1], Self.announcement(step: 41, hash: Self.hash(9)))]
        #expect(Self.elect(newer).0?.step == 41)
        let split = [Self.record(peers[0], Self.announcement(step: 40, hash: Self.hash(7))),
                     Self.record(peers[1], Self.announcement(step: 40, hash: Self.hash(3)))]
        #expect(Self.elect(split).0?.hash == Self.hash(3))
        #expect(Self.elect(split.reversed()).0?.hash == Self.hash(3))
        #expect(Self.elect([]).0 == nil)
    }

    @Test func aPeersNewestAnnouncementIsItsOnlyVote() {
        let peer = Self.identities(1)[0]
        let old = Self.record(peer, Self.announcement(step: 40, hash: Self.hash(1), time: Self.now - 5_000))
        var newer = Self.record(peer, Self.announcement(step: 41, hash: Self.hash(2)))
        newer = peer.signRecord(key: newer.key, subkey: newer.subkey, value: newer.value, expiresAt: newer.expiresAt + .milliseconds(1))
        let (ballots, _) = StateElection(stateBytes: Self.stateBytes).ballots(from: [old, newer], now: WallClockInstant(millisecondsSinceEpoch: Self.now))
        #expect(ballots.count == 1 && ballots[0].announcement.step == 41)
    }
}
