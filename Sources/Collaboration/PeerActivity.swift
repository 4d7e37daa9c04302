/// How a peer has spent its time and link since it started, published with its progress so the
/// coordinator can show how well the run uses its volunteers (docs/operations.md, "Reading the
/// dashboard"). Informational only: nothing in the protocol trusts it, since a peer can claim
/// anything here; values are range-checked so a hostile one cannot break the dashboard.
public struct PeerActivity: Equatable, Sendable {
    /// Seconds in forward and backward passes.
    public var trainingSeconds: Double = 0
    /// Seconds since the peer started.
    public var wallSeconds: Double = 0
    /// Sequences trained.
    public var samplesTrained: UInt64 = 0
    /// Averaging bytes sent and received in the rounds it took part in.
    public var bytesSent: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Optimizer steps of its own in the last round it averaged: inner steps under local SGD,
    /// 1 when every step is averaged.
    public var stepsInLastRound: UInt64 = 0

    public init() {}

    /// Time in forward and backward ÷ wall time, in [0, 1].
    public var utilisation: Double {
        wallSeconds > 0 ? min(max(trainingSeconds / wallSeconds, 0), 1) : 0
    }

    /// Averaging bytes sent and received per token trained (`contextLength` tokens a sequence).
    public func bytesPerToken(contextLength: Int) -> Double? {
        samplesTrained > 0 && contextLength > 0
            ? Double(bytesSent + bytesReceived) / (Double(samplesTrained) * Double(contextLength)) : nil
    }

    static let encodedSize = 8 * 6
    /// Bounds on what a record may claim: 100 years of seconds, 2⁵⁰ samples or bytes.
    static let secondsLimit = 100.0 * 365 * 86_400
    static let countLimit: UInt64 = 1 << 50

    func append(to bytes: inout [UInt8]) {
        for word in [trainingSeconds.bitPattern, wallSeconds.bitPattern, samplesTrained, bytesSent, bytesReceived, stepsInLastRound] {
            withUnsafeBytes(of: word.littleEndian) { bytes += $0 }
        }
    }

    /// Decodes the `encodedSize` bytes of `words`, six little-endian words.
    init(decoding words: (Int) -> UInt64) throws(PeerProgress.DecodingError) {
        trainingSeconds = Double(bitPattern: words(0))
        wallSeconds = Double(bitPattern: words(1))
        samplesTrained = words(2)
        bytesSent = words(3)
        bytesReceived = words(4)
        stepsInLastRound = words(5)
        guard (0...Self.secondsLimit).contains(trainingSeconds), (0...Self.secondsLimit).contains(wallSeconds),
              [samplesTrained, bytesSent, bytesReceived, stepsInLastRound].allSatisfy({ $0 <= Self.countLimit }) else {
            throw PeerProgress.DecodingError(description: "progress record has an activity count or time out of range")
        }
    }
}
