import Foundation

/// The coordinator's round history: an append-only file of one JSON object per line.
///
/// Each append is written and fsynced before the coordinator moves on, so a restart loses at
/// most the line being written when it died. Reading skips a torn last line (and reports it)
/// instead of refusing the whole history.
public final class RoundJournal {
    public let url: URL
    public private(set) var rounds: [CoordinatorStatus.Round] = []
    private let handle: FileHandle

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens (or creates) the journal and reads every complete line; `skipped` counts lines
    /// that did not decode.
    public init(url: URL) throws {
        self.url = url
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw Error(description: "\(url.path): cannot create the round journal")
            }
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Error(description: "\(url.path): cannot read the round journal")
        }
        var valid = 0
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let round = Self.decode(line: Data(line)) {
                rounds.append(round)
                valid += line.count + 1
            } else {
                skipped += 1
            }
        }
        do {
            handle = try FileHandle(forWritingTo: url)
            // Drop a torn tail so the next append starts on a clean line.
            if skipped > 0 && valid < data.count { try handle.truncate(atOffset: UInt64(valid)) }
            try handle.seekToEnd()
        } catch {
            throw Error(description: "\(url.path): cannot open the round journal for writing (\(error))")
        }
    }

    public private(set) var skipped = 0

    deinit { try? handle.close() }

    public var lastStep: Int? { rounds.last?.step }

    /// One journal line as a round, or nil when it is not one (a torn or foreign line).
    public static func decode(line: Data) -> CoordinatorStatus.Round? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = nonFinite.decoding
        return try? decoder.decode(CoordinatorStatus.Round.self, from: line)
    }

    /// A round nobody reported has no loss (NaN); JSON has no NaN, so it is written as a string.
    private static let nonFinite = (
        encoding: JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN"),
        decoding: JSONDecoder.NonConformingFloatDecodingStrategy.convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN"))

    public func append(_ round: CoordinatorStatus.Round) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = Self.nonFinite.encoding
        var line = try encoder.encode(round)
        line.append(UInt8(ascii: "\n"))
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            throw Error(description: "\(url.path): cannot append to the round journal (\(error))")
        }
        rounds.append(round)
    }
}
