import Foundation
import Testing

/// Real peer processes on 127.0.0.1 averaging over the real transport, one of them killed or
/// frozen mid-round with a signal (issue 4, "Faults"). Every frame is delayed by a second so
/// that a round lasts about two: chunks reach their owners after ~1 s and averages come back
/// after ~2 s, and a signal at 1.4 s lands after the victim's chunks arrived but before its
/// averages went out.
@Suite(.serialized)
struct AllReduceProcessTests {
    static let workerCount = 4
    static let elementCount = 4096
    static let roundTimeout = 4.0
    static let arguments = [
        "--rounds", "0", "--size", "\(elementCount)", "--chunk-size", "256", "--frame-delay-ms", "1000",
        "--sender-timeout", "3", "--round-timeout", "\(roundTimeout)", "--log-level", "info",
    ]
    static let victim = 2

    /// The part a worker owns: members are ordered by id and, with equal bandwidths, own equal parts.
    static func part(of worker: Int, ids: [String]) -> [Int] {
        let rank = ids.sorted().firstIndex(of: ids[worker])!
        let size = elementCount / workerCount
        return [rank * size, (rank + 1) * size]
    }

    /// Starts the workers, lets round `faultyRound` run for 1.4 s, sends `signal` to the victim,
    /// and returns the survivors' reports of that round with the victim's part. With
    /// `faultyRound` 2, the first rounds have proven the workers to each other (each proof
    /// step waits for the frame delay too), so its chunks are copied between the processes.
    func roundWithVictim(receiving signal: Int32, faultyRound: Int = 0) async throws
        -> (rounds: [WorkerGroup.Round], victimPart: [Int], logs: String) {
        var arguments = Self.arguments
        arguments[1] = "\(faultyRound)"
        let workers = try WorkerGroup(count: Self.workerCount, arguments: arguments)
        defer { workers.stop() }
        let ids = try await workers.introduce()
        let everyone = Array(0..<Self.workerCount)
        _ = try await workers.await("started \(faultyRound)", from: everyone, within: 30)
        try await Task.sleep(for: .milliseconds(1400))
        workers.deliver(signal, to: Self.victim)
        let survivors = everyone.filter { $0 != Self.victim }
        _ = try await workers.await("done", from: survivors, within: Self.roundTimeout + 10)
        return (try workers.rounds(faultyRound, from: survivors), Self.part(of: Self.victim, ids: ids), workers.logs(of: survivors))
    }

    @Test(arguments: [true, false])
    func membersWithoutFaultsEndEveryRoundBitIdentical(sameHostCopies: Bool) async throws {
        let workers = try WorkerGroup(count: Self.workerCount,
                                      arguments: ["--rounds", "2", "--size", "\(Self.elementCount)", "--chunk-size", "256",
                                                  sameHostCopies ? "--same-host-copies" : "--no-same-host-copies"])
        defer { workers.stop() }
        _ = try await workers.introduce()
        let everyone = Array(0..<Self.workerCount)
        _ = try await workers.await("done", from: everyone, within: 60)
        for index in 0...2 {
            let rounds = try workers.rounds(index, from: everyone)
            #expect(rounds.allSatisfy { $0.failedParts.isEmpty && $0.leftOut == 0 && $0.participants == Self.workerCount })
        }
        let last = try workers.rounds(2, from: everyone)
        #expect(last[0].checksum != nil && Set(last.map(\.checksum)).count == 1)
        // Round 0 proves the workers to each other; from then on every chunk is copied.
        let chunkBytesPerMember = Self.elementCount * 4 * 2 * (Self.workerCount - 1) / Self.workerCount
        #expect(last.allSatisfy { $0.sameHostBytes == (sameHostCopies ? chunkBytesPerMember : 0) }, "\(last)")
    }

    @Test(arguments: [0, 2])
    func survivorsOfAKilledMemberFinishBeforeTheDeadlineWithoutItsPart(faultyRound: Int) async throws {
        let (rounds, victimPart, logs) = try await roundWithVictim(receiving: SIGKILL, faultyRound: faultyRound)
        #expect(rounds[0].checksum != nil && Set(rounds.map(\.checksum)).count == 1, "survivors' averages differ: \(rounds)")
        for round in rounds {
            #expect(round.failedParts == [victimPart], "\(logs)")
            #expect(round.leftOut == 1 && round.participants == Self.workerCount - 1)
            // The lost connection tells the survivors at once; nobody waits for the deadline.
            #expect(round.seconds < Self.roundTimeout)
            #expect(faultyRound == 0 || round.sameHostBytes > 0, "chunks were not copied between the processes")
        }
    }

    /// A client-mode member owns no part, so nobody sends it anything and its death closes no
    /// connection a request waits on. Its parts are longer than a member's send window (32
    /// chunks: `AllReduceDriver.sendWindow`), so it dies having sent the first chunks and owing
    /// the rest: the owners' silence checks find it gone, long before the sender deadline.
    @Test func survivorsLeaveOutAClientModeMemberThatDiedOwingChunksAtTheirFirstSilenceCheck() async throws {
        let elementCount = Self.workerCount * 50 * 256
        let senderTimeout = 16.0
        let workers = try WorkerGroup(count: Self.workerCount, arguments: [
            "--rounds", "0", "--size", "\(elementCount)", "--chunk-size", "256", "--frame-delay-ms", "1000",
            "--sender-timeout", "\(senderTimeout)", "--round-timeout", "\(senderTimeout + 2)", "--silence-check-interval", "1",
            "--log-level", "info",
        ])
        defer { workers.stop() }
        _ = try await workers.introduce(clientMode: [Self.victim])
        let everyone = Array(0..<Self.workerCount)
        _ = try await workers.await("started 0", from: everyone, within: 30)
        // Its first 32 chunks per owner arrive after 1 s; the rest would leave after ~2 s,
        // once the first averages are back.
        try await Task.sleep(for: .milliseconds(1400))
        workers.deliver(SIGKILL, to: Self.victim)
        let survivors = everyone.filter { $0 != Self.victim }
        _ = try await workers.await("done", from: survivors, within: senderTimeout + 10)
        let rounds = try workers.rounds(0, from: survivors)
        let logs = workers.logs(of: survivors)
        #expect(rounds[0].checksum != nil && Set(rounds.map(\.checksum)).count == 1, "survivors' averages differ: \(rounds)")
        #expect(logs.contains("a silent sender is gone"), "\(logs)")
        for round in rounds {
            #expect(round.failedParts.isEmpty && round.leftOut == 1 && round.participants == Self.workerCount - 1, "\(round)")
            #expect(round.seconds < senderTimeout - 6, "the owners waited for the dead member: \(round)")
        }
    }

    @Test(arguments: [0, 2])
    func survivorsOfAStoppedMemberFinishAtTheDeadlineWithoutItsPart(faultyRound: Int) async throws {
        let (rounds, victimPart, logs) = try await roundWithVictim(receiving: SIGSTOP, faultyRound: faultyRound)
        #expect(rounds[0].checksum != nil && Set(rounds.map(\.checksum)).count == 1, "survivors' averages differ: \(rounds)")
        for round in rounds {
            #expect(round.failedParts == [victimPart], "\(logs)")
            #expect(round.leftOut == 1 && round.participants == Self.workerCount - 1)
            // A frozen member looks alive, so its part is given up at the round deadline.
            #expect(round.seconds >= Self.roundTimeout - 0.1 && round.seconds < Self.roundTimeout + 1)
            #expect(faultyRound == 0 || round.sameHostBytes > 0, "chunks were not copied between the processes")
        }
    }
}
