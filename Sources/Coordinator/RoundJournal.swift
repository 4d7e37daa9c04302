import Foundation

/// The coordinator's round history: an append-only file of one JSON object per line, steps
/// increasing.
///
/// Each append is written and fsynced before the coordinator moves on, so a restart loses at
/// most the line being written when it died. Reading skips a torn last line (and reports it)
/// instead of refusing the whole history.
///
/// The journal holds no rounds in memory, however long the run: only the offset of every
/// `indexStride`-th round, from which `page(since:limit:)` finds where to start reading. One
/// task appends while others read pages; a lock guards the index and the end of the file.
public final class RoundJournal: @unchecked Sendable {
    /// A page reads at most this many lines before the first round it returns (≈ 64 KB).
    public static let defaultIndexStride = 256

    private struct IndexEntry {
        var step: Int
        var offset: UInt64
    }

    public let url: URL
    public let indexStride: Int
    /// Lines at start-up that were not rounds, or not past the step before them, and were left
    /// out; a torn last line counts too.
    public private(set) var skipped = 0
    private let handle: FileHandle
    private let lock = NSLock()
    private var index: [IndexEntry] = []
    private var roundCount = 0
    /// The offset after the last whole line: where the next append goes, and where pages stop.
    private var end: UInt64 = 0
    private var newestStep: Int?

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens (or creates) the journal and reads it once, handing each round, oldest first, to
    /// `replay`; a torn last line is cut off so the next append starts on a clean line.
    public init(url: URL, indexStride: Int = defaultIndexStride,
                replaying replay: (CoordinatorStatus.Round) -> Void = { _ in }) throws {
        precondition(indexStride > 0, "the journal's index needs a positive stride, not \(indexStride)")
        self.url = url
        self.indexStride = indexStride
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw Error(description: "\(url.path): cannot create the round journal")
            }
        }
        do {
            handle = try FileHandle(forUpdating: url)
        } catch {
            throw Error(description: "\(url.path): cannot open the round journal (\(error))")
        }
        do {
            let size = try handle.seekToEnd()
            var lines = try JournalLines(handle: handle, from: 0, to: size)
            let decoder = Self.makeDecoder()
            while let (offset, line) = try lines.next() {
                guard !line.isEmpty else { continue }
                guard let round = Self.decode(line: line, with: decoder), newestStep.map({ round.step > $0 }) ?? true else {
                    skipped += 1
                    continue
                }
                indexRound(step: round.step, at: offset)
                replay(round)
            }
            end = lines.consumedEnd
            if end < size {
                skipped += 1
                try handle.truncate(atOffset: end)
            }
            try handle.seek(toOffset: end)
        } catch {
            throw Error(description: "\(url.path): cannot read the round journal (\(error))")
        }
    }

    deinit { try? handle.close() }

    public var lastStep: Int? { lock.withLock { newestStep } }

    /// Appends `round`, whose step must be past the newest journaled one.
    public func append(_ round: CoordinatorStatus.Round) throws {
        let offset = lock.withLock { () -> UInt64 in
            if let newestStep, round.step <= newestStep {
                preconditionFailure("journaling step \(round.step) after step \(newestStep): steps must increase")
            }
            return end
        }
        var line = try Self.makeEncoder().encode(round)
        line.append(UInt8(ascii: "\n"))
        do {
            try handle.write(contentsOf: line)
            try handle.synchronize()
        } catch {
            // Cut what part of the line was written, so the next append starts on a clean line.
            try? handle.truncate(atOffset: offset)
            try? handle.seek(toOffset: offset)
            throw Error(description: "\(url.path): cannot append to the round journal (\(error))")
        }
        lock.withLock {
            indexRound(step: round.step, at: offset)
            end = offset + UInt64(line.count)
        }
    }

    /// Up to `limit` journaled rounds from step `since` on, oldest first, read from the file
    /// starting at the nearest indexed round at or before `since`.
    public func page(since: Int, limit: Int) throws -> RoundPage {
        let (start, stop, newest) = lock.withLock { (startOffset(for: since), end, newestStep) }
        guard let newest, since <= newest, limit > 0 else { return RoundPage(rounds: [], nextSince: nil) }
        let reader: FileHandle
        do {
            reader = try FileHandle(forReadingFrom: url)
        } catch {
            throw Error(description: "\(url.path): cannot open the round journal for reading (\(error))")
        }
        defer { try? reader.close() }
        var rounds: [CoordinatorStatus.Round] = []
        do {
            var lines = try JournalLines(handle: reader, from: start, to: stop)
            let decoder = Self.makeDecoder()
            var previousStep: Int?
            while rounds.count < limit, let (_, line) = try lines.next() {
                // The same lines the start-up scan left out are left out here.
                guard let round = Self.decode(line: line, with: decoder), previousStep.map({ round.step > $0 }) ?? true else {
                    continue
                }
                previousStep = round.step
                if round.step >= since { rounds.append(round) }
            }
        } catch {
            throw Error(description: "\(url.path): cannot read the round journal (\(error))")
        }
        let nextSince = rounds.last.flatMap { $0.step < newest ? $0.step + 1 : nil }
        return RoundPage(rounds: rounds, nextSince: nextSince)
    }

    /// Counts a round at `offset` and indexes every `indexStride`-th. Called with the lock held
    /// (or before the journal is shared).
    private func indexRound(step: Int, at offset: UInt64) {
        if roundCount.isMultiple(of: indexStride) { index.append(IndexEntry(step: step, offset: offset)) }
        roundCount += 1
        newestStep = step
    }

    /// The offset of the newest indexed round at or before `step`, or the file's start.
    private func startOffset(for step: Int) -> UInt64 {
        var low = 0, high = index.count
        while low < high {
            let middle = (low + high) / 2
            if index[middle].step <= step { low = middle + 1 } else { high = middle }
        }
        return low == 0 ? 0 : index[low - 1].offset
    }
}

extension RoundJournal {
    /// One journal line as a round, or nil when it is not one (a torn or foreign line).
    public static func decode(line: Data) -> CoordinatorStatus.Round? {
        decode(line: line, with: makeDecoder())
    }

    private static func decode(line: Data, with decoder: JSONDecoder) -> CoordinatorStatus.Round? {
        try? decoder.decode(CoordinatorStatus.Round.self, from: line)
    }

    /// A round nobody reported has no loss (NaN); JSON has no NaN, so it is written as a string.
    private static let nonFinite = (
        encoding: JSONEncoder.NonConformingFloatEncodingStrategy.convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN"),
        decoding: JSONDecoder.NonConformingFloatDecodingStrategy.convertFromString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN"))

    private static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = nonFinite.decoding
        return decoder
    }

    private static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = nonFinite.encoding
        return encoder
    }
}
