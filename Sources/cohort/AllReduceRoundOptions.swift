import ArgumentParser
import Averaging

/// The round settings `cohort bench allreduce` and its workers share.
struct AllReduceRoundOptions: ParsableArguments {
    /// The codecs a run can choose, as the command line names them.
    enum CompressionName: String, ExpressibleByArgument, CaseIterable, Codable {
        case none, fp16, int8

        var compression: Compression {
            switch self {
            case .none: .none
            case .fp16: .float16
            case .int8: .blockwiseInt8
            }
        }
    }

    @Option(help: "Elements (float32) in the averaged vector.")
    var size = 1 << 20

    @Option(help: "How chunks travel: none, fp16 or int8.")
    var compression = CompressionName.none

    @Option(help: ArgumentHelp("Elements per streamed chunk.",
                               discussion: "By default what peers choose for the group: 2¹⁸ elements, or fewer so that an equal part spans at least eight chunks."))
    var chunkSize: Int?

    @Option(help: "Seconds an owner waits for senders before averaging what it has.")
    var senderTimeout = 20.0

    @Option(help: "Seconds a member waits for averages before reporting parts failed.")
    var roundTimeout = 30.0

    @Option(help: "Seconds a sender may stay silent before its owner checks that it is still there (0: no checks).")
    var silenceCheckInterval = 2.0

    @Flag(inversion: .prefixedNo,
          help: "Copy chunks straight out of the memory of peers proven to run on this machine instead of sending them through sockets.")
    var sameHostCopies = true

    func validate() throws {
        guard size >= 1, size <= 1 << 31 else { throw ValidationError("--size must be between 1 and 2³¹ elements") }
        if let chunkSize, !(1...(1 << 22)).contains(chunkSize) { throw ValidationError("--chunk-size must be between 1 and 2²² elements") }
        guard senderTimeout > 0, roundTimeout >= senderTimeout else {
            throw ValidationError("--sender-timeout must be positive and at most --round-timeout")
        }
        guard roundTimeout <= 86_400 else { throw ValidationError("--round-timeout must be at most 86400 seconds") }
        guard silenceCheckInterval == 0 || (0.001...86_400).contains(silenceCheckInterval) else {
            throw ValidationError("--silence-check-interval must be 0 (no checks) or between 0.001 and 86400 seconds")
        }
    }

    var roundSettings: AllReduceRound.Settings {
        var settings = AllReduceRound.Settings(compression: compression.compression, chunkSize: chunkSize ?? AllReduceRound.Settings.defaultChunkSize)
        settings.senderTimeout = .milliseconds(Int64(senderTimeout * 1000))
        settings.roundTimeout = .milliseconds(Int64(roundTimeout * 1000))
        settings.silenceCheckInterval = silenceCheckInterval > 0 ? .milliseconds(Int64(silenceCheckInterval * 1000)) : nil
        return settings
    }

    /// The same options as arguments for a worker process.
    var arguments: [String] {
        ["--size", "\(size)", "--compression", compression.rawValue] + (chunkSize.map { ["--chunk-size", "\($0)"] } ?? []) + [
         "--sender-timeout", "\(senderTimeout)", "--round-timeout", "\(roundTimeout)",
         "--silence-check-interval", "\(silenceCheckInterval)",
         sameHostCopies ? "--same-host-copies" : "--no-same-host-copies"]
    }
}
