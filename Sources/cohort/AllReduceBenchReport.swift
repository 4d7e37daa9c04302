import Foundation
import Peer

/// What `cohort bench allreduce` measured, from the workers' round reports.
struct AllReduceBenchReport: Encodable, CustomStringConvertible {
    let peers: Int
    let elements: Int
    let compression: String
    let chunkSize: Int
    /// Whether the members started every timed round together (`--lockstep`).
    let lockstep: Bool
    /// Per timed round, the slowest member's time: the round is over when its last member is.
    let roundSeconds: [Double]
    let medianSeconds: Double
    /// elements × 4 × 2(N−1)/N ÷ median time.
    let busBandwidthBytesPerSecond: Double
    /// Every member ended with a bit-identical vector.
    let agreed: Bool
    /// Chunk bytes the members copied out of each other's memory per timed round, all members
    /// together (0 when same-host copies are off or no member could be proven local).
    let sameHostBytesPerRound: Int
    /// Each worker's bytes sent and received in the last timed round: with the links' rates,
    /// the line-rate bound of a round (the busiest direction of the slowest link).
    let bytesSentPerWorker: [Int]
    let bytesReceivedPerWorker: [Int]

    enum CodingKeys: String, CodingKey {
        case peers, elements, compression, agreed, lockstep
        case sameHostBytesPerRound = "same_host_bytes_per_round"
        case bytesSentPerWorker = "bytes_sent_per_worker"
        case bytesReceivedPerWorker = "bytes_received_per_worker"
        case chunkSize = "chunk_size"
        case roundSeconds = "round_seconds"
        case medianSeconds = "median_seconds"
        case busBandwidthBytesPerSecond = "bus_bandwidth_bytes_per_second"
    }

    /// Checks that every worker finished every round complete and ended with the same vector.
    init(peers: Int, round: AllReduceRoundOptions, lockstep: Bool, workers: [WorkerProcess]) throws {
        let decoder = JSONDecoder()
        let reports = try workers.map { worker in
            try worker.lines.filter { $0.hasPrefix("round ") }.map {
                try decoder.decode(AllReduceBenchRound.self, from: Data($0.dropFirst("round ".count).utf8))
            }
        }
        let roundCount = reports[0].count
        guard roundCount >= 2, reports.allSatisfy({ $0.count == roundCount }) else {
            throw AllReduceBenchFailure(description: "workers reported \(reports.map(\.count)) rounds")
        }
        for index in 0..<roundCount {
            let outcomes = reports.map { $0[index] }
            guard outcomes.allSatisfy({ $0.failedParts.isEmpty && $0.leftOut == 0 }) else {
                throw AllReduceBenchFailure(description: "round \(index) left members or parts out: \(outcomes)")
            }
        }
        // Each round averages the previous round's averages, so equal final vectors mean every
        // round agreed.
        let finalChecksums = Set(reports.map { $0[roundCount - 1].checksum })
        guard finalChecksums.count == 1, finalChecksums.first! != nil else {
            throw AllReduceBenchFailure(description: "members ended with different vectors: checksums \(finalChecksums)")
        }
        self.peers = peers
        elements = round.size
        compression = round.compression.rawValue
        chunkSize = reports[0][roundCount - 1].chunkSize
        self.lockstep = lockstep
        roundSeconds = (1..<roundCount).map { index in reports.map { $0[index].seconds }.max()! }
        let sorted = roundSeconds.sorted()
        medianSeconds = sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        busBandwidthBytesPerSecond = Double(elements * 4) * 2 * Double(peers - 1) / Double(peers) / medianSeconds
        agreed = true
        let timedCopies = (1..<roundCount).reduce(0) { sum, index in sum + reports.reduce(0) { $0 + $1[index].sameHostBytes } }
        sameHostBytesPerRound = timedCopies / (roundCount - 1)
        bytesSentPerWorker = reports.map { $0[roundCount - 1].bytesSent }
        bytesReceivedPerWorker = reports.map { $0[roundCount - 1].bytesReceived }
    }

    var description: String {
        let mebibytes = Double(elements * 4) / 1_048_576
        return """
            All-reduce: \(peers) peer processes × \(elements) float32 (\(String(format: "%.1f", mebibytes)) MiB), \
            compression \(compression), chunks of \(chunkSize)
              round time      \(String(format: "%.4f", medianSeconds)) s median of \(roundSeconds.count) \
            (\(String(format: "%.4f", roundSeconds.min()!))–\(String(format: "%.4f", roundSeconds.max()!)) s), slowest member per round
              bus bandwidth   \(String(format: "%.3f", busBandwidthBytesPerSecond / 1e9)) GB/s (bytes × 2(N−1)/N ÷ time)
              agreement       every round complete, every member's final vector bit-identical
              transport       \(sameHostBytesPerRound > 0
                ? "\(String(format: "%.1f", Double(sameHostBytesPerRound) / 1_048_576)) MiB per round copied between the processes (same-host copies)"
                : "sockets only")
            """
    }
}
