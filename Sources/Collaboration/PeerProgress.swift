import CohortBase
import DHT
import Wire

/// What a training peer publishes about itself under the run's progress key in the DHT.
///
/// One record per peer (the subkey is its peer id); each peer overwrites its own as it trains.
/// DeDLOC §3.2 and hivemind's progress tracker use such records to decide together when the
/// run's global batch is complete.
public struct PeerProgress: Equatable, Sendable {
    /// The optimizer step the peer is accumulating gradients for.
    public var step: Int
    /// Samples accumulated towards `step` so far.
    public var samplesAccumulated: Int
    /// The peer's recent training throughput.
    public var samplesPerSecond: Double
    /// Mean training loss over the samples accumulated so far.
    public var loss: Double
    /// When the record was written, in milliseconds of the writer's wall clock.
    public var timestampMilliseconds: UInt64
    /// `timestampMilliseconds` as an instant, to compare with a clock reading.
    public var writtenAt: WallClockInstant { WallClockInstant(millisecondsSinceEpoch: timestampMilliseconds) }
    /// Whether the peer only trains and averages, accepting no inbound connections.
    public var clientMode: Bool
    /// How the peer has used its time and link; nil in records of builds that did not say.
    public var activity: PeerActivity?

    public init(step: Int, samplesAccumulated: Int, samplesPerSecond: Double, loss: Double,
                timestampMilliseconds: UInt64, clientMode: Bool = false) {
        self.step = step
        self.samplesAccumulated = samplesAccumulated
        self.samplesPerSecond = samplesPerSecond
        self.loss = loss
        self.timestampMilliseconds = timestampMilliseconds
        self.clientMode = clientMode
    }

    static let encodedSize = 8 * 5 + 1

    /// Little-endian encoding: step, samples, samples/s, loss, timestamp, flags (`encodedSize`
    /// bytes), then the activity's words when there is one.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.encodedSize)
        func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        append(UInt64(step))
        append(UInt64(samplesAccumulated))
        append(samplesPerSecond.bitPattern)
        append(loss.bitPattern)
        append(timestampMilliseconds)
        bytes.append(clientMode ? 1 : 0)
        activity?.append(to: &bytes)
        return bytes
    }

    public struct DecodingError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Decodes and validates a record written by another peer.
    public init(decoding bytes: [UInt8]) throws {
        let sizes = [Self.encodedSize, Self.encodedSize + PeerActivity.encodedSize]
        guard sizes.contains(bytes.count) else {
            throw DecodingError(description: "progress record has \(bytes.count) bytes, expected \(sizes[0]) or \(sizes[1])")
        }
        /// The `index`th little-endian word from byte `start` on.
        func word(_ index: Int, from start: Int = 0) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[start + index * 8 + $1]) << (8 * UInt64($1)) }
        }
        guard word(0) <= UInt64(Int32.max), word(1) <= UInt64(Int32.max) else {
            throw DecodingError(description: "progress record step or sample count is out of range")
        }
        let rate = Double(bitPattern: word(2)), loss = Double(bitPattern: word(3))
        guard rate.isFinite, rate >= 0, rate < 1e9, !loss.isNaN, bytes[40] <= 1 else {
            throw DecodingError(description: "progress record has an invalid throughput, loss or flag")
        }
        self.init(step: Int(word(0)), samplesAccumulated: Int(word(1)), samplesPerSecond: rate, loss: loss,
                  timestampMilliseconds: word(4), clientMode: bytes[40] == 1)
        if bytes.count > Self.encodedSize { activity = try PeerActivity { word($0, from: Self.encodedSize) } }
    }
}
