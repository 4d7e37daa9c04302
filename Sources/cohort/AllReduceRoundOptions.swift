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

    @Option(help: "Elements per streamed chunk.")
    var chunkSize = AllReduceRound.Settings.defaultChunkSize

    @Option(help: "Seconds an owner waits for senders before averaging what it has.")
    var senderTimeout = 20.0

    @Option(help: "Seconds a member waits for averages before reporting parts failed.")
    var roundTimeout = 30.0

    @Flag(inversion: .prefixedNo,
          help: "Copy chunks straight out of the memory of peers proven to run on this machine instead of sending them through sockets.")
    var sameHostCopies = true

    func validate() throws {
        guard size >= 1, size <= 1 << 31 else { throw ValidationError("--size must be between 1 and 2³¹ elements") }
        guard chunkSize >= 1, chunkSize <= 1 << 22 else { throw ValidationError("--chunk-size must be between 1 and 2²² elements") }
        guard senderTimeout > 0, roundTimeout >= senderTimeout else {
            throw ValidationError("--sender-timeout must be positive and at most --round-timeout")
        }
    }

    var roundSettings: AllReduceRound.Settings {
        var settings = AllReduceRound.Settings(compression: compression.compression, chunkSize: chunkSize)
        settings.senderTimeout = .milliseconds(Int64(senderTimeout * 1000))
        settings.roundTimeout = .milliseconds(Int64(roundTimeout * 1000))
        return settings
    }

    /// The same options as arguments for a worker process.
    var arguments: [String] {
        ["--size", "\(size)", "--compression", compression.rawValue, "--chunk-size", "\(chunkSize)",
         "--sender-timeout", "\(senderTimeout)", "--round-timeout", "\(roundTimeout)",
         sameHostCopies ? "--same-host-copies" : "--no-same-host-copies"]
    }
}
