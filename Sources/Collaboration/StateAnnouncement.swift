import CohortBase
import Wire

/// What a peer publishes after each step: the step its state is at, a hash of that state and
/// where to fetch it. Peers of one round compare hashes to prove they agree bit for bit; a new
/// or lagging peer downloads from the peers that announce the newest step.
public struct StateAnnouncement: Equatable, Sendable {
    public var step: Int
    /// The state's hash over its chunks' digests (`StateManifest.stateHash`).
    public var stateHash: [UInt8]
    /// Bytes of the state, so a downloader knows the size before it asks.
    public var stateBytes: Int
    /// Where to fetch the state; empty for a client-mode peer, which serves nothing.
    public var host: String
    public var port: UInt16
    public var timestampMilliseconds: UInt64
    /// `timestampMilliseconds` as an instant, to compare with a clock reading.
    public var writtenAt: WallClockInstant { WallClockInstant(millisecondsSinceEpoch: timestampMilliseconds) }

    public init(step: Int, stateHash: [UInt8], stateBytes: Int, host: String, port: UInt16, timestampMilliseconds: UInt64) {
        self.step = step
        self.stateHash = stateHash
        self.stateBytes = stateBytes
        self.host = host
        self.port = port
        self.timestampMilliseconds = timestampMilliseconds
    }

    public var servesState: Bool { !host.isEmpty && port != 0 }

    public var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 96)
        writer.write(UInt64(step))
        writer.write(raw: stateHash)
        writer.write(UInt64(stateBytes))
        writer.writeWithU8Length(Array(host.utf8))
        writer.write(port)
        writer.write(timestampMilliseconds)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let step = try reader.readU64()
        let hash = try reader.readBytes(count: 32)
        let size = try reader.readU64()
        let host = try reader.readUTF8(try reader.readU8LengthPrefixed(maxLength: 255))
        let port = try reader.readU16()
        let time = try reader.readU64()
        try reader.expectEnd()
        guard step <= UInt64(Int32.max), size <= 1 << 40 else { throw WireError.invalidValue }
        guard host.isEmpty || Endpoint.isValidHost(host) else { throw WireError.invalidValue.with(detail: "not a host name or address") }
        self.init(step: Int(step), stateHash: hash, stateBytes: Int(size), host: host, port: port, timestampMilliseconds: time)
    }
}

/// One member's account of an averaging round, published for the coordinator's history.
public struct RoundReport: Equatable, Sendable {
    public var step: Int
    public var members: Int
    public var samples: Int
    public var durationSeconds: Double
    public var loss: Double
    public var bytesSent: UInt64
    public var bytesReceived: UInt64
    public var failedParts: Int
    /// Why the round could not average with others (empty when it did). It is sent with its
    /// unsafe characters escaped (`PeerText`), and a report whose note has any is refused.
    public var note: String
    public static let maxNoteBytes = 1024

    public init(step: Int, members: Int, samples: Int, durationSeconds: Double, loss: Double,
                bytesSent: UInt64, bytesReceived: UInt64, failedParts: Int, note: String = "") {
        self.step = step
        self.members = members
        self.samples = samples
        self.durationSeconds = durationSeconds
        self.loss = loss
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
        self.failedParts = failedParts
        self.note = note
    }

    public var encoded: [UInt8] {
        var writer = ByteWriter(reservingCapacity: 80)
        for value in [UInt64(step), UInt64(members), UInt64(samples), durationSeconds.bitPattern, loss.bitPattern,
                      bytesSent, bytesReceived, UInt64(failedParts)] {
            writer.write(value)
        }
        writer.writeWithU16Length(Array(PeerText.escaped(note, maxBytes: Self.maxNoteBytes).utf8))
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        var words: [UInt64] = []
        for _ in 0..<8 { words.append(try reader.readU64()) }
        let note = try reader.readUTF8(try reader.readU16LengthPrefixed(maxLength: Self.maxNoteBytes))
        try reader.expectEnd()
        guard PeerText.isSafe(note) else { throw WireError.invalidValue.with(detail: "control character in a round note") }
        let duration = Double(bitPattern: words[3]), loss = Double(bitPattern: words[4])
        guard words[0] <= UInt64(Int32.max), words[1] <= 1 << 20, words[2] <= 1 << 40, words[7] <= 1 << 20,
              duration.isFinite, duration >= 0, !loss.isNaN else { throw WireError.invalidValue }
        self.init(step: Int(words[0]), members: Int(words[1]), samples: Int(words[2]), durationSeconds: duration, loss: loss,
                  bytesSent: words[5], bytesReceived: words[6], failedParts: Int(words[7]), note: note)
    }
}
